"""The membership store: each user's state in each audience, and every audience's exact size."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from enum import Enum
from typing import Protocol

from audiences.domain import MembershipChange, State, UserRef

Mapper = Callable[[Callable, Iterable], Iterator]


class Outcome(Enum):
    QUALIFIED = 1  # the user joined: size +1
    DISQUALIFIED = -1  # the user left: size -1
    UPDATED = 0  # newer ts, same effect on size (a re-qualify, a tombstone)
    STALE = None  # an equal or newer state is stored: ignored


class ContendedError(RuntimeError):
    """The same membership kept changing under us; the request should be retried."""


class MembershipStore(Protocol):
    """A change applies if it supersedes what is stored (`domain.supersedes`); a data expiry (`expires` set)
    applies only while the qualification of that ts is stored. A size moves exactly with its members."""

    def write_all(self, tenant_id: str, changes: Sequence[MembershipChange], pool: Executor) -> list[Outcome]:
        """Apply changes, at most one per (user, audience); the outcome of each, in their order. A failure leaves
        the call safe to repeat: what was applied is then stale, the rest applies."""
        ...

    def qualified_before(
        self, tenant_id: str, external_id: str, cutoff: float, in_parallel: Mapper = map
    ) -> Iterator[list[tuple[UserRef, float]]]:
        """The audience's members qualified at a ts up to `cutoff`, in batches."""
        ...

    def user_memberships(self, tenant_id: str, user: UserRef) -> dict[str, tuple[State, float]]:
        """Every audience entry of one user (qualified and tombstones), by external id."""
        ...

    def user_memberships_in(
        self, tenant_id: str, user: UserRef, external_ids: set[str]
    ) -> dict[str, tuple[State, float]]:
        """The user's entries for these audiences only (at most 100)."""
        ...

    def user_known(self, tenant_id: str, user: UserRef) -> bool:
        """Whether any entry of the user is stored."""
        ...

    def audience_sizes(self, tenant_id: str, external_ids: list[str], in_parallel: Mapper = map) -> dict[str, int]:
        """Exact numbers of qualified members, 0 for an audience never written."""
        ...

    def delete_tombstones(self, tenant_id: str, user: UserRef, tombstones: dict[str, float]) -> int:
        """Delete the user's tombstones named (external id -> ts), each only if it is still that tombstone (one
        written since stays); how many went. Sizes do not move: a tombstone counts in none. Safe to repeat."""
        ...
