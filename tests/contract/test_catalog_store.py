"""The catalog store's contract (audiences.ports.catalog), on DynamoDB and in memory."""

from __future__ import annotations

from dataclasses import replace

import pytest

from audiences.domain import Audience
from audiences.errors import Conflict, Reason
from audiences.ports.catalog import Order, RevisionRaced, is_position, key_position, position


def make(stores, key: str, external_id: str | None = None, tenant: str = "t1", **fields) -> Audience:
    return stores.catalog.create_audience(tenant, Audience(key, external_id or key, **fields), "key-1")


def test_a_created_audience_has_an_id_times_and_its_actor_and_is_found_by_key_and_id(stores):
    created = make(stores, "vip", "ext", name="VIP", claims=frozenset({"adobe:name:vip"}), ttl_days=3, origin="adobe")
    assert created.audience_id and created.created_at == created.updated_at and created.created_by == "key-1"
    assert stores.catalog.get_audience("t1", "vip") == created
    assert stores.catalog.get_audience_by_id("t1", created.audience_id) == created
    assert stores.catalog.count_audiences("t1") == 1
    assert stores.catalog.get_audience("t2", "vip") is None
    assert stores.catalog.get_audience_by_id("t2", created.audience_id) is None
    assert stores.catalog.count_audiences("t2") == 0


@pytest.mark.parametrize(
    ("wanted", "reason"),
    [
        (Audience("vip", "other"), Reason.KEY_TAKEN),
        (Audience("second", "ext"), Reason.EXTERNAL_ID_TAKEN),
        (Audience("second", "other", claims=frozenset({"c"})), Reason.CLAIM_TAKEN),
    ],
)
def test_a_create_taking_a_held_name_is_a_conflict_that_writes_nothing(stores, wanted, reason):
    make(stores, "vip", "ext", claims=frozenset({"c"}))
    with pytest.raises(Conflict) as refused:
        stores.catalog.create_audience("t1", wanted, "key-1")
    assert refused.value.reason is reason
    if reason is Reason.EXTERNAL_ID_TAKEN:
        assert refused.value.facts["holder"] == "vip"
    assert [a.key for a in stores.catalog.list_audiences("t1")] == ["vip"]
    assert stores.catalog.count_audiences("t1") == 1
    assert make(stores, "free", "other", claims=frozenset({"d"})).key == "free"  # nothing of it was held


def test_another_tenant_may_hold_the_same_names(stores):
    make(stores, "vip", "ext", claims=frozenset({"c"}))
    assert make(stores, "vip", "ext", tenant="t2", claims=frozenset({"c"})).key == "vip"


def test_an_update_replaces_the_audience_moves_its_names_and_keeps_who_made_it(stores):
    current = make(stores, "vip", "ext", claims=frozenset({"a", "b"}), origin="segment")
    wanted = replace(
        current,
        external_id="ext2",
        description="d",
        metadata={"k": "v"},
        enabled=False,
        name="VIP",
        dialect_attributes={"segment": "{}"},
        claims=frozenset({"b", "c"}),
        ttl_days=5,
        revision=2,
        origin="odp",
    )
    updated = stores.catalog.update_audience("t1", current, wanted, "key-2")
    assert (updated.updated_by, updated.created_by, updated.audience_id) == ("key-2", "key-1", current.audience_id)
    stored = stores.catalog.get_audience("t1", "vip")
    assert stored == replace(updated, origin="segment")  # the origin is what created it
    assert stores.catalog.audiences_by_external_id("t1", {"ext", "ext2"}) == {"ext2": stored}
    make(stores, "reuses", "ext", claims=frozenset({"a"}))  # the names it let go are free
    for taken in (replace(stored, external_id="ext", revision=3), replace(stored, claims={"b", "a"}, revision=3)):
        with pytest.raises(Conflict):
            stores.catalog.update_audience("t1", stored, taken, "key-2")
    assert stores.catalog.get_audience("t1", "vip") == stored


def test_an_update_or_delete_of_a_stale_read_races(stores):
    current = make(stores, "vip")
    stores.catalog.update_audience("t1", current, replace(current, description="x", revision=2), "key-2")
    with pytest.raises(RevisionRaced):
        stores.catalog.update_audience("t1", current, replace(current, description="y", revision=2), "key-2")
    with pytest.raises(RevisionRaced):
        stores.catalog.delete_audience("t1", current)
    assert stores.catalog.get_audience("t1", "vip").description == "x"


def test_a_delete_frees_every_name(stores):
    current = make(stores, "vip", "ext", claims=frozenset({"c"}))
    stores.catalog.delete_audience("t1", current)
    assert stores.catalog.get_audience("t1", "vip") is None
    assert stores.catalog.get_audience_by_id("t1", current.audience_id) is None
    assert stores.catalog.count_audiences("t1") == 0
    assert make(stores, "vip", "ext", claims=frozenset({"c"})).audience_id != current.audience_id


@pytest.mark.parametrize("order", list(Order))
def test_pages_in_either_direction_say_whether_more_lie_beyond(stores, order):
    made = [make(stores, f"k{n}", enabled=n % 3 != 1) for n in (4, 1, 3, 0, 2)]
    expected = sorted(made, key=lambda audience: position(audience, order))
    if order is Order.CREATION:
        assert expected == made
    first = stores.catalog.page("t1", order, 2)
    assert (first.audiences, first.more) == (expected[:2], True)
    rest = stores.catalog.page("t1", order, 5, after=position(expected[1], order))
    assert (rest.audiences, rest.more) == (expected[2:], False)
    back = stores.catalog.page("t1", order, 2, before=position(expected[3], order))
    assert (back.audiences, back.more) == (expected[1:3], True)
    enabled = stores.catalog.page("t1", order, 10, enabled_only=True)
    assert enabled.audiences == [a for a in expected if a.enabled]
    assert all(is_position(position(a, order), order) for a in made)
    if order is Order.KEY:  # a position of a key no audience has starts a page too
        assert stores.catalog.page("t1", order, 10, after=key_position("k25")).audiences == expected[3:]


def test_lookups_by_key_and_external_id_and_the_listings(stores):
    made = [make(stores, "b", "y", ttl_days=2), make(stores, "a", "x"), make(stores, "c", "z", tenant="t2", ttl_days=1)]
    assert stores.catalog.list_audiences("t1") == [made[1], made[0]]
    assert sorted(stores.catalog.audiences_by_key("t1", {"a", "b", "zz"}), key=lambda a: a.key) == made[1::-1]
    assert stores.catalog.audiences_by_external_id("t1", {"x", "z"}) == {"x": made[1]}
    assert sorted(stores.catalog.expiring_audiences(), key=lambda pair: pair[0]) == [("t1", made[0]), ("t2", made[2])]
