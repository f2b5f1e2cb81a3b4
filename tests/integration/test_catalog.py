"""The dialect-neutral catalog: ids, who changed what, exact counts, store-paged listings, the id migration."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from audiences import catalog
from audiences.catalog import Order
from audiences.domain import Audience
from audiences.stores import catalog as catalog_table
from audiences.stores.models import AudienceItem, ExternalIdClaim


def create(key: str, actor: str = "key0001", **fields) -> Audience:
    return catalog.create_audience("demo", Audience(key, f"ext_{key}", **fields), actor)


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
        migrated = sum(pool.map(lambda _: catalog_table.migrate("demo"), range(4)))
    assert migrated == 12
    assert catalog_table.migrate("demo") == 0
    assert catalog.count_audiences("demo") == 13
    listed = catalog.page("demo", Order.CREATION, 50).audiences
    assert [a.key for a in listed] == [f"old{n:02d}" for n in range(12)] + ["fresh"]
    for audience in listed:
        assert catalog.get_audience_by_id("demo", audience.audience_id).key == audience.key
    assert catalog.get_audience("demo", "old00").created_by == ""  # nobody recorded who made it
