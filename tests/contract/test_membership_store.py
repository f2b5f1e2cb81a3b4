"""The membership store's contract (audiences.ports.memberships), on DynamoDB and in memory."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiences.domain import MembershipChange, State, UserRef, supersedes
from audiences.ports.memberships import Outcome

Q, D = State.QUALIFIED, State.DISQUALIFIED
ANN, BOB = UserRef("fs_user_id", "ann"), UserRef("email", "bob@x.io")


@pytest.fixture(scope="module")
def pool():
    with ThreadPoolExecutor(4) as executor:
        yield executor


def write(stores, pool, *changes: MembershipChange, tenant: str = "t1") -> list[Outcome]:
    return stores.memberships.write_all(tenant, list(changes), pool)


def test_each_change_applies_if_it_supersedes_what_is_stored_and_says_what_it_did(stores, pool):
    steps = [
        (MembershipChange(ANN, "vip", Q, 10), Outcome.QUALIFIED),
        (MembershipChange(ANN, "vip", Q, 10), Outcome.STALE),  # a replay
        (MembershipChange(ANN, "vip", Q, 12), Outcome.UPDATED),  # a re-qualify
        (MembershipChange(ANN, "vip", D, 11), Outcome.STALE),  # older
        (MembershipChange(ANN, "vip", D, 12), Outcome.DISQUALIFIED),  # equal ts: the disqualify wins
        (MembershipChange(ANN, "vip", Q, 12), Outcome.STALE),
        (MembershipChange(BOB, "vip", D, 5), Outcome.UPDATED),  # a tombstone: no member left
    ]
    for change, outcome in steps:
        assert write(stores, pool, change) == [outcome], change
    assert stores.memberships.user_memberships("t1", ANN) == {"vip": (D, 12)}
    assert stores.memberships.audience_sizes("t1", ["vip", "none"]) == {"vip": 0, "none": 0}


def test_an_expiry_ends_only_the_qualification_of_its_ts(stores, pool):
    write(stores, pool, MembershipChange(ANN, "vip", Q, 10), MembershipChange(BOB, "vip", Q, 10))
    write(stores, pool, MembershipChange(BOB, "vip", Q, 9))  # stale: bob stays qualified as of 10
    expire = [MembershipChange(user, "vip", D, 20, expires=10) for user in (ANN, BOB)]
    write(stores, pool, MembershipChange(ANN, "vip", Q, 11))  # a later qualification arrived first
    assert write(stores, pool, *expire) == [Outcome.STALE, Outcome.DISQUALIFIED]
    assert stores.memberships.user_memberships("t1", BOB) == {"vip": (D, 20)}
    assert stores.memberships.audience_sizes("t1", ["vip"]) == {"vip": 1}


changes = st.builds(
    MembershipChange,
    user=st.sampled_from([ANN, BOB, UserRef("fs_user_id", "bob@x.io")]),
    external_id=st.sampled_from(["a", "b"]),
    state=st.sampled_from(list(State)),
    ts=st.integers(min_value=0, max_value=3).map(float),
)


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(history=st.lists(changes, min_size=1, max_size=12))
def test_outcomes_states_and_sizes_follow_the_rule_change_by_change(stores, pool, history):
    tenant = f"t{uuid.uuid4().hex[:12]}"  # one moto for every example
    model: dict = {}
    for change in history:
        key, current = (change.user, change.external_id), model.get((change.user, change.external_id))
        applies = supersedes((change.state, change.ts), current)
        joined = int(change.state is Q) - int(current is not None and current[0] is Q)
        assert write(stores, pool, change, tenant=tenant) == [Outcome(joined) if applies else Outcome.STALE]
        if applies:
            model[key] = (change.state, change.ts)
    for user in {change.user for change in history}:
        assert stores.memberships.user_memberships(tenant, user) == {
            ext: entry for (u, ext), entry in model.items() if u == user
        }
    sizes = {ext: sum(1 for (_, e), (state, _) in model.items() if e == ext and state is Q) for ext in ("a", "b")}
    assert stores.memberships.audience_sizes(tenant, ["a", "b"]) == sizes


def test_reads_of_one_user_and_of_who_qualified_before_a_time(stores, pool):
    users = [UserRef("fs_user_id", f"u{n:03d}") for n in range(250)]
    write(stores, pool, *(MembershipChange(user, "vip", Q, float(n)) for n, user in enumerate(users)))
    write(stores, pool, MembershipChange(users[0], "vip", D, 1000), MembershipChange(users[1], "other", Q, 5))
    due = [member for batch in stores.memberships.qualified_before("t1", "vip", 199.0) for member in batch]
    assert sorted(due, key=lambda member: member[1]) == [(user, float(n)) for n, user in enumerate(users)][1:200]
    assert stores.memberships.user_memberships_in("t1", users[1], {"other", "nope"}) == {"other": (Q, 5.0)}
    assert stores.memberships.user_known("t1", users[0]) and not stores.memberships.user_known("t1", ANN)
    assert stores.memberships.user_known("t2", users[0]) is False
    assert stores.memberships.audience_sizes("t1", ["vip", "other"]) == {"vip": 249, "other": 1}


def test_deleting_tombstones_takes_only_those_still_as_named_and_moves_no_size(stores, pool):
    tenant = f"t{uuid.uuid4().hex[:8]}"
    write(
        stores,
        pool,
        MembershipChange(ANN, "old", D, 5),
        MembershipChange(ANN, "new", D, 50),
        MembershipChange(ANN, "member", Q, 5),
        MembershipChange(BOB, "old", D, 5),
        tenant=tenant,
    )
    named = {"old": 5.0, "new": 49.0, "member": 5.0}  # "new" was rewritten since, "member" is no tombstone
    assert stores.memberships.delete_tombstones(tenant, ANN, named) == 1
    assert stores.memberships.user_memberships(tenant, ANN) == {"new": (D, 50.0), "member": (Q, 5.0)}
    assert stores.memberships.user_memberships(tenant, BOB) == {"old": (D, 5.0)}  # another user's stays
    assert stores.memberships.audience_sizes(tenant, ["member", "old"]) == {"member": 1, "old": 0}
    assert stores.memberships.delete_tombstones(tenant, ANN, named) == 0  # a repeat finds none
