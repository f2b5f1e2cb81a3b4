"""The grouped write: changes share transactions in pieces of one audience, each piece moving one size
shard, and a cancellation settles or re-plans exactly the memberships it names. Counted at botocore,
checked against the sequential model."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from pynamodb.exceptions import TransactWriteError

from audiences import memberships, screening
from audiences.domain import MembershipChange, State, UserRef
from audiences.stores import memberships as membership_store
from audiences.stores.memberships import ContendedError
from local import provision
from tests.aws_calls import AWS_CALLS, AWS_FAULTS, DYNAMODB_CONFLICTS, InjectedFault
from tests.conftest import PLAN
from tests.model import expected, observed

pytestmark = pytest.mark.usefixtures("privacy_marks_cached")

TRANSACT = "dynamodb.TransactWriteItems"


@pytest.fixture(scope="module")
def dynamodb():
    with mock_aws():
        provision.provision(PLAN)
        yield


@pytest.fixture
def tenant(dynamodb) -> str:
    tenant_id = f"t{uuid.uuid4().hex[:12]}"
    screening.of(tenant_id)  # a warm container's: the privacy marks are read once a cache age, not per call
    AWS_CALLS.reset()
    yield tenant_id
    DYNAMODB_CONFLICTS.remaining, DYNAMODB_CONFLICTS.code, DYNAMODB_CONFLICTS.last = 0, "TransactionConflict", False


def joins(users, audience: str = "a", ts: float = 10.0) -> list[MembershipChange]:
    return [MembershipChange(UserRef("fs_user_id", user), audience, State.QUALIFIED, ts) for user in users]


def test_fresh_changes_share_transactions_of_at_most_100_items(tenant):
    history = joins(f"u{n}" for n in range(300)) + joins((f"u{n}" for n in range(40)), audience="b")
    result = memberships.apply(tenant, history)
    assert result.qualified == 340
    items = AWS_CALLS.items_per_request(TRANSACT)
    # a: pieces of 99, 99 | 99, 3 (two a round); b: one piece of 40; each moves one shard by its net delta
    assert sorted(items) == [4, 41, 100, 100, 100]
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
    assert AWS_CALLS.items_per_request(TRANSACT) == [14 + 1, 12 + 1]  # one piece, one shard
    history = joins(["stale1", "stale2"], ts=20.0) + joins(["again1", "again2"], ts=5.0) + batch
    assert observed(tenant, history) == expected(history)


def test_an_audience_sends_two_pieces_a_round_each_on_its_own_shard(tenant):
    history = joins(f"s{n}" for n in range(250))
    assert memberships.apply(tenant, history).qualified == 250
    assert AWS_CALLS.items_per_request(TRANSACT) == [100, 100, 53]
    shards = [call.written_keys[-1] for call in AWS_CALLS.log if call.name == TRANSACT]
    assert len(set(shards)) == 3  # never two at once on one shard, and the third round on the next
    assert observed(tenant, history) == expected(history)


def test_net_zero_shard_deltas_write_no_shard_item(tenant):
    user_a, user_b = "s1", "s2"
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
    assert items[0] == 61 and max(items[1:3]) <= 50 and max(items[3:]) <= 25  # halved by each conflict
    assert DYNAMODB_CONFLICTS.remaining == 0
    assert observed(tenant, history) == expected(history)


def test_a_size_shard_held_by_another_writer_sends_the_piece_again_whole_on_the_next_shard(tenant):
    history = joins(f"u{n}" for n in range(60))
    DYNAMODB_CONFLICTS.last, DYNAMODB_CONFLICTS.remaining = True, 3
    assert memberships.apply(tenant, history).qualified == 60
    assert AWS_CALLS.items_per_request(TRANSACT) == [61, 61, 61, 61]  # not split: the shard was the conflict
    shards = [call.written_keys[-1] for call in AWS_CALLS.log if call.name == TRANSACT]
    assert len(set(shards)) == 4
    assert observed(tenant, history) == expected(history)


def test_endless_conflicts_fail_the_call_with_nothing_applied(tenant, monkeypatch):
    monkeypatch.setattr(membership_store, "_BASE_BACKOFF_SECONDS", 0.001)  # the same attempts, sooner
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


@pytest.fixture
def small_transactions(monkeypatch):
    """Transactions of 6 items: packing, pieces of a shard group and rounds with every few changes."""
    monkeypatch.setattr(membership_store, "TRANSACTION_ITEMS", 6)


some_changes = st.builds(
    MembershipChange,
    user=st.sampled_from([UserRef("fs_user_id", f"u{n}") for n in range(12)]),
    external_id=st.sampled_from(["a", "b"]),
    state=st.sampled_from(list(State)),
    ts=st.integers(min_value=0, max_value=3).map(float),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(some_changes, min_size=1, max_size=40), data=st.data())
def test_small_transactions_in_any_order_and_batching_match_the_model(dynamodb, small_transactions, history, data):
    delivered = data.draw(st.permutations(history + data.draw(st.lists(st.sampled_from(history), max_size=10))))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(delivered)), max_size=4)))
    tenant = f"t{uuid.uuid4().hex[:12]}"
    for start, end in zip([0, *cuts], [*cuts, len(delivered)], strict=True):
        memberships.apply(tenant, delivered[start:end])
    assert observed(tenant, history) == expected(history)


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_around_any_call_of_a_multi_round_write_then_a_retry_is_exact(dynamodb, small_transactions, when):
    stored = joins((f"u{n}" for n in range(0, 12, 3)), ts=5.0)  # some re-qualify, some are stale
    batch = joins((f"u{n}" for n in range(12)), ts=4.0) + joins((f"u{n}" for n in range(0, 12, 2)), audience="b")
    batch += [MembershipChange(UserRef("fs_user_id", f"u{n}"), "a", State.DISQUALIFIED, 6.0) for n in range(0, 12, 4)]
    history = stored + batch
    AWS_CALLS.reset()
    probe = f"t{uuid.uuid4().hex[:12]}"
    memberships.apply(probe, stored)
    AWS_CALLS.reset()
    memberships.apply(probe, batch)
    calls = len(AWS_CALLS.calls)
    assert calls >= 6 and AWS_CALLS.errors  # several rounds, and cancellations among them
    for index in range(calls):
        tenant = f"t{uuid.uuid4().hex[:12]}"
        memberships.apply(tenant, stored)
        AWS_FAULTS.arm(index, when)
        try:
            with pytest.raises(InjectedFault):
                memberships.apply(tenant, batch)
        finally:
            fired = AWS_FAULTS.fired
            AWS_FAULTS.disarm()
        assert fired, f"the crash {when} call {index} never happened"
        memberships.apply(tenant, batch)  # the client's retry
        assert observed(tenant, history) == expected(history), f"crash {when} call {index}"
