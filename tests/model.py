"""The simplest possible membership model: apply changes one by one with the LWW rule."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from audiences import memberships
from audiences.domain import MembershipChange, State, UserRef, supersedes
from audiences.wiring import stores

Key = tuple[UserRef, str]


def expected(changes: Iterable[MembershipChange]) -> tuple[dict[Key, tuple[State, float]], Counter]:
    states: dict[Key, tuple[State, float]] = {}
    for change in changes:
        key = (change.user, change.external_id)
        if supersedes((change.state, change.ts), states.get(key)):
            states[key] = (change.state, change.ts)
    return states, Counter(external_id for (_, external_id), (state, _) in states.items() if state is State.QUALIFIED)


def observed(tenant_id: str, changes: Iterable[MembershipChange]) -> tuple[dict[Key, tuple[State, float]], Counter]:
    changes = list(changes)
    states = {
        (user, external_id): entry
        for user in {change.user for change in changes}
        for external_id, entry in stores().memberships.user_memberships(tenant_id, user).items()
    }
    sizes = Counter(
        {
            external_id: size
            for external_id in {change.external_id for change in changes}
            if (size := memberships.audience_size(tenant_id, external_id))
        }
    )
    return states, sizes
