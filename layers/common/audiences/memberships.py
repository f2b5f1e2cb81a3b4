"""The single write path for memberships, and the membership read behind customer queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from audiences.domain import Audience, MembershipChange, State, UserRef
from audiences.stores import catalog as catalog_store
from audiences.stores import memberships as membership_store


@dataclass(frozen=True)
class ApplyResult:
    applied: int
    stale: int  # older than what is stored: ignored by last-writer-wins


def apply(tenant_id: str, changes: Sequence[MembershipChange]) -> ApplyResult:
    """Apply every change; each is one conditional write, so replays and reorders are harmless."""
    applied = sum(membership_store.write_if_newer(tenant_id, change) for change in changes)
    return ApplyResult(applied=applied, stale=len(changes) - applied)


def customer_audiences(tenant_id: str, user: UserRef) -> list[Audience] | None:
    """The enabled audiences `user` is qualified for, or None if we know nothing of the user."""
    entries = membership_store.user_memberships(tenant_id, user)
    if not entries:
        return None
    qualified = {external_id for external_id, (state, _) in entries.items() if state is State.QUALIFIED}
    if not qualified:
        return []
    return [
        audience
        for audience in catalog_store.list_audiences(tenant_id)
        if audience.enabled and audience.external_id in qualified
    ]
