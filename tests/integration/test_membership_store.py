"""The membership store against the sequential model: order, duplication, concurrency, contention."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from audiences import memberships
from audiences.domain import MembershipChange, State, UserRef
from audiences.stores.memberships import ContendedError
from local import provision
from tests.aws_calls import DYNAMODB_CONFLICTS
from tests.conftest import PLAN
from tests.model import expected, observed

changes = st.builds(
    MembershipChange,
    user=st.sampled_from([UserRef("fs_user_id", f"u{n}") for n in range(4)] + [UserRef("email", "u0")]),
    external_id=st.sampled_from(["a", "b", "c"]),
    state=st.sampled_from(list(State)),
    ts=st.integers(min_value=0, max_value=4).map(float),
)


@pytest.fixture(scope="module")
def dynamodb():
    """One moto for the module; every example gets a tenant of its own instead of a fresh AWS."""
    with mock_aws():
        provision.provision(PLAN)
        yield


def new_tenant() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(changes, min_size=1, max_size=20), data=st.data())
def test_any_permutation_duplication_and_batching_matches_the_model(dynamodb, history, data):
    delivered = data.draw(st.permutations(history + data.draw(st.lists(st.sampled_from(history), max_size=10))))
    # From one batch for all to one request per change: collapsing within a batch must not matter.
    cuts = sorted(data.draw(st.lists(st.integers(0, len(delivered)), max_size=len(delivered))))
    tenant = new_tenant()
    for start, end in zip([0, *cuts], [*cuts, len(delivered)], strict=True):
        memberships.apply(tenant, delivered[start:end])
    assert observed(tenant, history) == expected(history)


def test_concurrent_requests_keep_sizes_exact(dynamodb):
    history = [
        MembershipChange(
            UserRef("fs_user_id", f"u{n % 30}"), f"a{n % 3}", State(["qualified", "disqualified"][n % 2]), n % 7
        )
        for n in range(240)
    ]
    tenant = new_tenant()
    batches = [history[n::6] for n in range(6)] * 2  # every change twice, from six concurrent clients
    with ThreadPoolExecutor(max_workers=6) as clients:
        list(clients.map(lambda batch: memberships.apply(tenant, batch), batches))
    assert observed(tenant, history) == expected(history)


def test_transaction_conflicts_are_retried_with_backoff(dynamodb):
    tenant = new_tenant()
    change = MembershipChange(UserRef("fs_user_id", "u1"), "a", State.QUALIFIED, 1.0)
    DYNAMODB_CONFLICTS.remaining = 3
    result = memberships.apply(tenant, [change])
    assert DYNAMODB_CONFLICTS.remaining == 0
    assert result.qualified == 1
    assert observed(tenant, [change]) == expected([change])


def test_endless_contention_fails_the_request_without_a_partial_count(dynamodb):
    tenant = new_tenant()
    change = MembershipChange(UserRef("fs_user_id", "u1"), "a", State.QUALIFIED, 1.0)
    DYNAMODB_CONFLICTS.remaining = 1000
    try:
        with pytest.raises(ContendedError):
            memberships.apply(tenant, [change])
    finally:
        DYNAMODB_CONFLICTS.remaining = 0
    assert observed(tenant, [change]) == ({}, {})
    memberships.apply(tenant, [change])  # the client's retry
    assert observed(tenant, [change]) == expected([change])


@pytest.mark.parametrize("order", [[State.QUALIFIED, State.DISQUALIFIED], [State.DISQUALIFIED, State.QUALIFIED]])
def test_equal_ts_disqualify_wins_across_requests_and_sizes_follow(dynamodb, order):
    tenant = new_tenant()
    history = [MembershipChange(UserRef("fs_user_id", "u1"), "a", state, 7.0) for state in order]
    for change in history:
        memberships.apply(tenant, [change])
    assert observed(tenant, history) == expected(history) == ({(history[0].user, "a"): (State.DISQUALIFIED, 7.0)}, {})


def test_winners_keep_one_change_per_user_and_audience():
    u1, u2 = UserRef("fs_user_id", "u1"), UserRef("fs_user_id", "u2")
    batch = [
        MembershipChange(u1, "a", State.QUALIFIED, 5),
        MembershipChange(u1, "a", State.DISQUALIFIED, 5),
        MembershipChange(u1, "a", State.QUALIFIED, 4),
        MembershipChange(u2, "a", State.QUALIFIED, 1),
        MembershipChange(u1, "b", State.QUALIFIED, 1),
    ]
    assert memberships.winners(batch) == [batch[1], batch[3], batch[4]]
