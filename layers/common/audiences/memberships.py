"""The single write path for memberships, and the reads behind customer queries and sizes."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from audiences import catalog, screening
from audiences.domain import Audience, MembershipChange, State, UserRef, supersedes
from audiences.ports.memberships import Outcome
from audiences.wiring import stores

# Requests in flight per invocation: enough to hide DynamoDB's latency, and no more than the
# 10 connections PynamoDB's botocore client pools, so no thread waits for a socket.
APPLY_CONCURRENCY = 10
_pool = ThreadPoolExecutor(max_workers=APPLY_CONCURRENCY, thread_name_prefix="apply")


@dataclass(frozen=True)
class ApplyResult:
    qualified: int = 0  # users who joined an audience
    disqualified: int = 0  # users who left one
    updated: int = 0  # newer ts without a change of membership
    stale: int = 0  # older than what is stored, or superseded within the batch: ignored
    screened: int = 0  # dropped by a privacy mark: a suppressed subject's, or an erased one's older than the erasure


def winners(changes: Sequence[MembershipChange]) -> list[MembershipChange]:
    """Per (user, audience), the one change last-writer-wins keeps: the others cannot matter."""
    best: dict[tuple[UserRef, str], MembershipChange] = {}
    for change in changes:
        key = (change.user, change.external_id)
        held = best.get(key)
        if held is None or supersedes((change.state, change.ts), (held.state, held.ts)):
            best[key] = change
    return list(best.values())


def apply(tenant_id: str, changes: Sequence[MembershipChange]) -> ApplyResult:
    """Apply every change, in shared transactions sent in parallel; a failure is raised only once
    every write has ended.

    No write outlives the call (Lambda would freeze it mid-flight), and a failed request may be
    retried as a whole: the changes already applied are then stale, the rest apply.
    """
    counting, screened = screening.screen(tenant_id).changes(changes)
    to_write = winners(counting)
    outcomes = Counter(stores().memberships.write_all(tenant_id, to_write, _pool))
    return ApplyResult(
        qualified=outcomes[Outcome.QUALIFIED],
        disqualified=outcomes[Outcome.DISQUALIFIED],
        updated=outcomes[Outcome.UPDATED],
        stale=outcomes[Outcome.STALE] + len(counting) - len(to_write),
        screened=screened,
    )


def qualified_before(tenant_id: str, external_id: str, cutoff: float) -> Iterator[list[tuple[UserRef, float]]]:
    """The audience's members qualified at a ts up to `cutoff`, in batches, its index partitions read at once."""
    return stores().memberships.qualified_before(tenant_id, external_id, cutoff, in_parallel=_pool.map)


def audience_size(tenant_id: str, external_id: str) -> int:
    return stores().memberships.audience_sizes(tenant_id, [external_id])[external_id]


def audience_sizes(tenant_id: str, external_ids: list[str]) -> dict[str, int]:
    """Exact sizes, their BatchGetItems sent concurrently: a page waits about one request's latency."""
    return stores().memberships.audience_sizes(tenant_id, external_ids, in_parallel=_pool.map)


@dataclass(frozen=True)
class Qualification:
    audience: Audience
    ts: float  # of the change that qualified the user


def customer_audiences(
    tenant_id: str, user: UserRef, now: float | None = None, keys: set[str] | None = None
) -> list[Qualification] | None:
    """The enabled audiences `user` is qualified for, or None if we know nothing of the user.

    Without `keys`, one Query of the user's memberships; with `keys` (at most 100 audience keys),
    one BatchGetItem of exactly those, so the cost does not grow with how many audiences the user
    is in (plus one single-key Query, only if none is found, to tell an unknown user from one
    in none of them). The catalog comes from this container's copy. A qualification past its
    audience's TTL does not count, swept or not.
    """
    now = time.time() if now is None else now
    if keys is None:
        entries = stores().memberships.user_memberships(tenant_id, user)
        if not entries:
            return None
        qualified = {ext: ts for ext, (state, ts) in entries.items() if state is State.QUALIFIED}
        audiences = catalog.audiences_by_external_id(tenant_id, set(qualified))
    else:
        by_external_id = {a.external_id: a for a in catalog.audiences_by_key(tenant_id, keys).values()}
        entries = (
            stores().memberships.user_memberships_in(tenant_id, user, set(by_external_id)) if by_external_id else {}
        )
        if not entries and not stores().memberships.user_known(tenant_id, user):
            return None
        qualified = {ext: ts for ext, (state, ts) in entries.items() if state is State.QUALIFIED}
        audiences = {ext: by_external_id[ext] for ext in qualified}
    return [
        Qualification(audience, qualified[external_id])
        for external_id, audience in audiences.items()
        if audience.enabled and not audience.expired(qualified[external_id], now)
    ]


def erase(tenant_id: str, users: Sequence[UserRef], up_to: float) -> int:
    """Forget the users in every audience as of `up_to` (a privacy erasure): each qualification of a ts up to
    it ends through the one write path (a disqualify of the same ts, which wins a tie: sizes stay exact
    under any concurrency), then every tombstone up to it is deleted; how many entries went. Entries newer
    than `up_to` are later data and stay; what is older and comes back is screened by the erasure's mark
    (audiences.screening). Safe to repeat."""
    entries_of = _pool.map(lambda user: stores().memberships.user_memberships(tenant_id, user), users)
    held = dict(zip(users, entries_of, strict=True))
    leaving = [
        MembershipChange(user, external_id, State.DISQUALIFIED, ts)
        for user, entries in held.items()
        for external_id, (state, ts) in entries.items()
        if state is State.QUALIFIED and ts <= up_to
    ]
    stores().memberships.write_all(tenant_id, leaving, _pool)  # not screened: this is the erasure itself
    # every entry up to the erasure is now a tombstone of its ts (a disqualify of equal ts wins)
    tombstones = {user: {ext: ts for ext, (_, ts) in entries.items() if ts <= up_to} for user, entries in held.items()}
    return sum(_pool.map(lambda user: stores().memberships.delete_tombstones(tenant_id, user, tombstones[user]), users))
