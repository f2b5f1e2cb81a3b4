"""The dialect-neutral catalog: ids, who changed what, exact counts, store-paged listings, the id migration."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import pytest

from audiences import catalog
from audiences.domain import OPERATOR, Audience
from audiences.errors import Conflict, NotFound
from audiences.odp.segments import keeping_unsaid


def create(key: str, actor: str = "key0001", **fields) -> Audience:
    return catalog.create_audience("demo", Audience(key, f"ext_{key}", **fields), actor)


def test_an_audience_gets_a_uuid_and_is_found_by_it_or_its_key(memory):
    created = create("vip", name="VIP customers", dialect_attributes={"segment": json.dumps({"query": "q"})})
    assert uuid.UUID(created.audience_id).version == 4
    by_id = catalog.get_audience_by_id("demo", created.audience_id)
    assert by_id == catalog.get_audience("demo", "vip")
    assert (by_id.name, by_id.created_by, by_id.updated_by) == ("VIP customers", "key0001", "key0001")
    assert json.loads(by_id.dialect_attributes["segment"]) == {"query": "q"}


def test_another_tenants_audience_is_not_found_by_id(memory):
    created = create("vip")
    with pytest.raises(NotFound) as raised:
        catalog.get_audience_by_id("other", created.audience_id)
    assert (raised.value.resource, raised.value.reason, raised.value.facts) == (
        "audience",
        "not_found",
        {"id": created.audience_id},
    )


def test_an_update_records_who_made_it_and_keeps_the_id(memory):
    created = create("vip")
    updated = catalog.update_audience(
        "demo", created.audience_id, lambda current: Audience(**{**current.__dict__, "enabled": False}), "key0002"
    )
    assert (updated.audience_id, updated.revision, updated.enabled) == (created.audience_id, 2, False)
    assert (updated.created_by, updated.updated_by) == ("key0001", "key0002")
    assert catalog.get_audience("demo", "vip") == updated


def test_odp_put_keeps_what_it_cannot_say(memory):
    create("vip", name="VIP customers", dialect_attributes={"segment": "{}"})
    catalog.put_audience("demo", Audience("vip", "ext_vip", description="changed"), "key0003", keeping_unsaid)
    stored = catalog.get_audience("demo", "vip")
    assert (stored.name, stored.dialect_attributes, stored.description) == (
        "VIP customers",
        {"segment": "{}"},
        "changed",
    )


def test_conflicts_are_structured_not_worded_for_a_dialect(memory):
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


def test_a_claim_is_held_by_one_audience_at_a_time_and_a_refused_create_writes_nothing(memory):
    first = create("vip", claims=frozenset({"adobe/prod/name/VIP"}), ttl_days=30)
    assert catalog.get_audience_by_id("demo", first.audience_id).ttl_days == 30
    with pytest.raises(Conflict) as raised:
        create("vip_again", claims=frozenset({"adobe/dev/name/VIP", "adobe/prod/name/VIP"}))
    assert (raised.value.reason, raised.value.facts) == ("claim_taken", {"claim": "adobe/prod/name/VIP"})
    assert catalog.count_audiences("demo") == 1
    assert [a.key for a in catalog.list_audiences("demo")] == ["vip"]
    create("vip_dev", claims=frozenset({"adobe/dev/name/VIP"}))  # the refused create claimed nothing


def test_an_update_moves_its_claims_and_a_delete_frees_them(memory):
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
