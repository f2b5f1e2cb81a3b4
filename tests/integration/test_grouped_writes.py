"""The grouped write: changes share transactions by size shard, and a cancellation settles or re-plans
exactly the memberships it names. Counted at botocore, checked against the sequential model."""

from __future__ import annotations

import uuid

import pytest
from moto import mock_aws
from pynamodb.exceptions import TransactWriteError

from audiences import memberships
from audiences.domain import MembershipChange, State, UserRef
from audiences.stores.memberships import ContendedError, shard_of
from local import provision
from tests.aws_calls import AWS_CALLS, DYNAMODB_CONFLICTS
from tests.conftest import PLAN
from tests.model import expected, observed

TRANSACT = "dynamodb.TransactWriteItems"


@pytest.fixture(scope="module")
def dynamodb():
    with mock_aws():
        provision.provision(PLAN)
        yield


@pytest.fixture
def tenant(dynamodb) -> str:
    AWS_CALLS.reset()
    yield f"t{uuid.uuid4().hex[:12]}"
    DYNAMODB_CONFLICTS.remaining, DYNAMODB_CONFLICTS.code = 0, "TransactionConflict"


def joins(users, audience: str = "a", ts: float = 10.0) -> list[MembershipChange]:
    return [MembershipChange(UserRef("fs_user_id", user), audience, State.QUALIFIED, ts) for user in users]


def users_of_one_shard(count: int) -> list[str]:
    found, n = [], 0
    while len(found) < count:
        if shard_of(UserRef("fs_user_id", f"s{n}")) == 3:
            found.append(f"s{n}")
        n += 1
    return found


def test_fresh_changes_share_transactions_of_at_most_100_items(tenant):
    history = joins(f"u{n}" for n in range(300)) + joins((f"u{n}" for n in range(40)), audience="b")
    result = memberships.apply(tenant, history)
    assert result.qualified == 340
    items = AWS_CALLS.items_per_request(TRANSACT)
    shards = {(change.external_id, shard_of(change.user)) for change in history}
    assert len(items) == 4 and max(items) <= 100  # whole shard groups, packed
    assert sum(items) == 340 + len(shards)  # each shard moved once, by its group's net delta
    assert observed(tenant, history) == expected(history)


def test_a_cancellation_resends_the_rest_with_what_it_learned(tenant):
    memberships.apply(tenant, joins(["stale1", "stale2"], ts=20.0) + joins(["again1", "again2"], ts=5.0))
    AWS_CALLS.reset()
    batch = joins(f"new{n}" for n in range(10)) + joins(["stale1", "stale2", "again1", "again2"], ts=10.0)
    result = memberships.apply(tenant, batch)
    assert (result.qualified, result.updated, result.stale) == (10, 2, 2)
    # the first try is cancelled by the four it names; the second carries the fresh ten and the two
    # re-qualifies, now conditioned on what the cancellation returned; the stale two are done
    assert AWS_CALLS.counts() == {TRANSACT: 2}
    fresh_shards = {shard_of(change.user) for change in batch[:10]}
    all_shards = {shard_of(change.user) for change in batch}
    assert AWS_CALLS.items_per_request(TRANSACT) == [14 + len(all_shards), 12 + len(fresh_shards)]
    history = joins(["stale1", "stale2"], ts=20.0) + joins(["again1", "again2"], ts=5.0) + batch
    assert observed(tenant, history) == expected(history)


def test_a_shard_group_over_99_goes_out_a_piece_a_round(tenant):
    history = joins(users_of_one_shard(250))
    assert memberships.apply(tenant, history).qualified == 250
    assert AWS_CALLS.items_per_request(TRANSACT) == [100, 100, 53]  # never two at once on one shard
    assert observed(tenant, history) == expected(history)


def test_net_zero_shard_deltas_write_no_shard_item(tenant):
    user_a, user_b = users_of_one_shard(2)
    memberships.apply(tenant, joins([user_a]))
    AWS_CALLS.reset()
    swap = [MembershipChange(UserRef("fs_user_id", user_a), "a", State.DISQUALIFIED, 11.0), *joins([user_b], ts=11.0)]
    result = memberships.apply(tenant, swap)
    assert (result.qualified, result.disqualified) == (1, 1)
    assert AWS_CALLS.items_per_request(TRANSACT) == [2]  # two memberships, the shard's +1 -1 left out
    history = joins([user_a]) + swap
    assert observed(tenant, history) == expected(history)


@pytest.mark.parametrize("code", ["TransactionConflict", "ThrottlingError"])
def test_a_conflicting_transaction_backs_off_and_splits(tenant, code):
    history = joins(f"u{n}" for n in range(60))
    DYNAMODB_CONFLICTS.code, DYNAMODB_CONFLICTS.remaining = code, 2
    assert memberships.apply(tenant, history).qualified == 60
    items = AWS_CALLS.items_per_request(TRANSACT)
    assert items[0] == 76 and max(items[1:3]) <= 50 and max(items[3:]) <= 25  # halved by each conflict
    assert DYNAMODB_CONFLICTS.remaining == 0
    assert observed(tenant, history) == expected(history)


def test_endless_conflicts_fail_the_call_with_nothing_applied(tenant):
    DYNAMODB_CONFLICTS.remaining = 10_000
    history = joins(f"u{n}" for n in range(20))
    with pytest.raises(ContendedError):
        memberships.apply(tenant, history)
    DYNAMODB_CONFLICTS.remaining = 0
    assert observed(tenant, history) == ({}, {})
    memberships.apply(tenant, history)  # the client's retry
    assert observed(tenant, history) == expected(history)


def test_a_cancellation_for_another_reason_is_a_fault_not_a_retry(tenant):
    DYNAMODB_CONFLICTS.code, DYNAMODB_CONFLICTS.remaining = "ValidationError", 1
    history = joins(f"u{n}" for n in range(5))
    with pytest.raises(TransactWriteError):
        memberships.apply(tenant, history)
    assert AWS_CALLS.counts() == {TRANSACT: 1}
    assert observed(tenant, history) == ({}, {})
