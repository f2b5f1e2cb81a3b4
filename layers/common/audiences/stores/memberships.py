"""Membership items: the only code that writes them, and the one Query that reads a user's."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from audiences.domain import MembershipChange, State, UserRef
from audiences.stores.models import MembershipItem


def _user_pk(tenant_id: str, user: UserRef) -> str:
    return f"{tenant_id}#{user.field}#{user.value}"


def write_if_newer(tenant_id: str, change: MembershipChange) -> bool:
    """One conditional UpdateItem, no read: True if applied, False if a newer state stands.

    The condition is `audiences.domain.supersedes` in DynamoDB's words.
    """
    newer = MembershipItem.ts.does_not_exist() | (MembershipItem.ts < change.ts)
    if change.state is State.DISQUALIFIED:
        newer |= (MembershipItem.ts == change.ts) & (MembershipItem.state == State.QUALIFIED.value)
    item = MembershipItem(_user_pk(tenant_id, change.user), change.external_id)
    try:
        item.update(
            actions=[MembershipItem.state.set(change.state.value), MembershipItem.ts.set(change.ts)],
            condition=newer,
        )
    except UpdateError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def user_memberships(tenant_id: str, user: UserRef) -> dict[str, tuple[State, float]]:
    """Every audience entry of one user (qualified and tombstones), by external id: one Query."""
    return {item.sk: (State(item.state), float(item.ts)) for item in MembershipItem.query(_user_pk(tenant_id, user))}
