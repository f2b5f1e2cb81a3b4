"""The dialect-neutral catalog: ids, who changed what, exact counts, store-paged listings, the id migration."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from audiences import catalog
from audiences.catalog import Order
from audiences.domain import OPERATOR, Audience
from audiences.errors import Conflict, NotFound
from audiences.stores.models import AudienceItem, ExternalIdClaim


def create(key: str, actor: str = "key0001", **fields) -> Audience:
    return catalog.create_audience("demo", Audience(key, f"ext_{key}", **fields), actor)


def test_an_audience_gets_a_uuid_and_is_found_by_it_or_its_key(aws):
    created = create("vip", name="VIP customers", dialect_attributes={"segment": json.dumps({"query": "q"})})
    assert uuid.UUID(created.audience_id).version == 4
    by_id = catalog.get_audience_by_id("demo", created.audience_id)
    assert by_id == catalog.get_audience("demo", "vip")
    assert (by_id.name, by_id.created_by, by_id.updated_by) == ("VIP customers", "key0001", "key0001")
    assert json.loads(by_id.dialect_attributes["segment"]) == {"query": "q"}


def test_another_tenants_audience_is_not_found_by_id(aws):
    created = create("vip")
    with pytest.raises(NotFound) as raised:
        catalog.get_audience_by_id("other", created.audience_id)
    assert (raised.value.resource, raised.value.reason, raised.value.facts) == (
        "audience",
        "not_found",
        {"id": created.audience_id},
    )


def test_an_update_records_who_made_it_and_keeps_the_id(aws):
    created = create("vip")
    updated = catalog.update_audience(
        "demo", created.audience_id, lambda current: Audience(**{**current.__dict__, "enabled": False}), "key0002"
    )
    assert (updated.audience_id, updated.revision, updated.enabled) == (created.audience_id, 2, False)
    assert (updated.created_by, updated.updated_by) == ("key0001", "key0002")
    assert catalog.get_audience("demo", "vip") == updated


def test_odp_put_keeps_what_it_cannot_say(aws):
    create("vip", name="VIP customers", dialect_attributes={"segment": "{}"})
    catalog.put_audience("demo", Audience("vip", "ext_vip", description="changed"), "key0003")
    stored = catalog.get_audience("demo", "vip")
    assert (stored.name, stored.dialect_attributes, stored.description) == (
        "VIP customers",
        {"segment": "{}"},
        "changed",
    )


def test_conflicts_are_structured_not_worded_for_a_dialect(aws):
    create("vip")
    with pytest.raises(Conflict) as key_taken:
        create("vip")
    assert (key_taken.value.reason, key_taken.value.facts) == ("key_taken", {"key": "vip"})
    with pytest.raises(Conflict) as external_taken:
        catalog.create_audience("demo", Audience("other", "ext_vip"), OPERATOR)
    assert (external_taken.value.reason, external_taken.value.facts) == (
        "external_id_taken",
        {"external_id": "ext_vip", "holder": "vip"},
    )
    assert "segment" not in key_taken.value.message + external_taken.value.message


def test_the_count_is_exact_under_concurrent_creates_and_deletes(aws):
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: create(f"a{n}"), range(24)))
        list(pool.map(lambda n: catalog.delete_audience("demo", f"a{n}"), range(0, 24, 3)))
    assert catalog.count_audiences("demo") == 16 == len(catalog.list_audiences("demo"))
    assert catalog.count_audiences("other") == 0


@pytest.mark.parametrize("order", list(Order))
def test_pages_visit_every_audience_once_in_order_with_one_query_each(aws, order, aws_calls):
    created = [create(f"k{n:02d}") for n in (5, 3, 9, 1, 7, 2, 8)]
    expected = sorted(created, key=lambda a: a.key) if order is Order.KEY else created
    seen, after, pages = [], None, 0
    aws_calls.reset()
    while True:
        page = catalog.page("demo", order, 3, after)
        seen += page.audiences
        pages += 1
        if not page.more:
            break
        after = catalog.position(page.audiences[-1], order)
    assert [a.key for a in seen] == [a.key for a in expected]
    assert pages == 3  # 3 + 3 + 1: the last page says it is the last, no empty page after it
    assert aws_calls.counts() == Counter({"dynamodb.Query": 3})
    backwards = catalog.page("demo", order, 3, before=catalog.position(seen[4], order))
    assert (backwards.audiences, backwards.more) == (seen[1:4], True)
    assert catalog.page("demo", order, 3, before=catalog.position(seen[3], order)) == catalog.Page(seen[:3], False)


def legacy(key: str, created_at: datetime) -> None:
    """An audience as the catalog stored it before ids were addressable: no id claim, order or count."""
    AudienceItem(
        "demo",
        f"AUDIENCE#{key}",
        audience_id=str(uuid.uuid4()),
        external_id=key,
        revision=1,
        created_at=created_at,
        updated_at=created_at,
    ).save()
    ExternalIdClaim("demo", f"EXTERNAL#{key}", audience_key=key).save()


def test_the_migration_makes_older_audiences_addressable_exactly_once_under_concurrency(aws):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(12):
        legacy(f"old{n:02d}", start + timedelta(minutes=n))
    fresh = create("fresh")
    assert catalog.page("demo", Order.CREATION, 50).audiences == [fresh]

    with ThreadPoolExecutor(max_workers=4) as pool:
        migrated = sum(pool.map(lambda _: catalog.migrate("demo"), range(4)))
    assert migrated == 12
    assert catalog.migrate("demo") == 0
    assert catalog.count_audiences("demo") == 13
    listed = catalog.page("demo", Order.CREATION, 50).audiences
    assert [a.key for a in listed] == [f"old{n:02d}" for n in range(12)] + ["fresh"]
    for audience in listed:
        assert catalog.get_audience_by_id("demo", audience.audience_id).key == audience.key
    assert catalog.get_audience("demo", "old00").created_by == ""  # nobody recorded who made it


def test_a_claim_is_held_by_one_audience_at_a_time_and_a_refused_create_writes_nothing(aws):
    first = create("vip", claims=frozenset({"adobe/prod/name/VIP"}), ttl_days=30)
    assert catalog.get_audience_by_id("demo", first.audience_id).ttl_days == 30
    with pytest.raises(Conflict) as raised:
        create("vip_again", claims=frozenset({"adobe/dev/name/VIP", "adobe/prod/name/VIP"}))
    assert (raised.value.reason, raised.value.facts) == ("claim_taken", {"claim": "adobe/prod/name/VIP"})
    assert catalog.count_audiences("demo") == 1
    assert [a.key for a in catalog.list_audiences("demo")] == ["vip"]
    create("vip_dev", claims=frozenset({"adobe/dev/name/VIP"}))  # the refused create claimed nothing


def test_an_update_moves_its_claims_and_a_delete_frees_them(aws):
    held = create("a", claims=frozenset({"x"}))
    other = create("b", claims=frozenset({"y"}))
    with pytest.raises(Conflict) as raised:
        catalog.update_audience("demo", other.audience_id, lambda a: replace(a, claims=a.claims | {"x"}), OPERATOR)
    assert raised.value.facts == {"claim": "x"}
    assert catalog.get_audience("demo", "b").claims == frozenset({"y"})
    moved = catalog.update_audience("demo", held.audience_id, lambda a: replace(a, claims=frozenset({"z"})), OPERATOR)
    assert moved.claims == frozenset({"z"})
    create("c", claims=frozenset({"x"}))  # freed by the move
    catalog.delete_audience("demo", "a")
    create("d", claims=frozenset({"z"}))  # freed by the delete
