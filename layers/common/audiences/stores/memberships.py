"""Membership items and audience sizes: the only code that writes either.

A change is applied with no read before the write. It is first tried as the transition
that moves the audience's size (a user becoming qualified, or a qualified user leaving):
one transaction that writes the membership and adds +1/-1 to a size shard, conditioned on
the state that makes it such a transition. If that condition fails, DynamoDB returns the
stored item, which tells whether the change is stale (nothing to do) or moves no size (one
UpdateItem conditioned on exactly the state just seen). Every step is a single atomic call
whose condition fails on a replay, so duplicates, reordering, concurrency and a crash
between any two calls followed by a retry all leave states and sizes exact.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable, Iterator
from enum import Enum

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from audiences.domain import MembershipChange, State, UserRef, supersedes
from audiences.stores import clients
from audiences.stores.conditions import condition_failed, failed_conditions
from audiences.stores.models import MembershipItem, SizeShard

SIZE_SHARDS = 16  # fixed: sizes are read by summing shards 0..15
BATCH_GET_KEYS = 100  # DynamoDB's most keys per BatchGetItem
Mapper = Callable[[Callable, Iterable], Iterator]
_RACE_ATTEMPTS = 8
_RETRYABLE_CANCELLATIONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
_BASE_BACKOFF_SECONDS = 0.025


class Outcome(Enum):
    QUALIFIED = 1  # the user joined: size +1
    DISQUALIFIED = -1  # the user left: size -1
    UPDATED = 0  # newer ts, same effect on size (a re-qualify, a tombstone)
    STALE = None  # an equal or newer state is stored: ignored


class ContendedError(RuntimeError):
    """The same membership kept changing under us; the request should be retried."""


def _user_pk(tenant_id: str, user: UserRef) -> str:
    return f"{tenant_id}#{user.field}#{user.value}"


def _shard_pk(tenant_id: str, shard: int, external_id: str) -> str:
    return f"SIZE#{tenant_id}#{shard}#{external_id}"


def _shard_of(user: UserRef) -> int:
    return hashlib.blake2b(f"{user.field}#{user.value}".encode(), digest_size=2).digest()[0] % SIZE_SHARDS


def _qualified_in(tenant_id: str, external_id: str) -> str:
    return f"{tenant_id}#{external_id}"


def write(tenant_id: str, change: MembershipChange) -> Outcome:
    item = MembershipItem(_user_pk(tenant_id, change.user), change.external_id)
    set_state = [MembershipItem.state.set(change.state.value), MembershipItem.ts.set(change.ts)]
    if change.state is State.QUALIFIED:
        set_state.append(MembershipItem.qualified_in.set(_qualified_in(tenant_id, change.external_id)))
        moves_size = MembershipItem.ts.does_not_exist() | (
            (MembershipItem.state == State.DISQUALIFIED.value) & (MembershipItem.ts < change.ts)
        )
        flipped = Outcome.QUALIFIED
    else:
        set_state.append(MembershipItem.qualified_in.remove())
        latest = MembershipItem.ts <= change.ts if change.expires is None else MembershipItem.ts == change.expires
        moves_size = (MembershipItem.state == State.QUALIFIED.value) & latest
        flipped = Outcome.DISQUALIFIED
    shard = SizeShard(_shard_pk(tenant_id, _shard_of(change.user), change.external_id), "SIZE")

    for attempt in range(_RACE_ATTEMPTS):
        try:
            with TransactWrite(connection=clients.dynamodb()) as transaction:
                transaction.update(item, actions=set_state, condition=moves_size, return_values="ALL_OLD")
                transaction.update(shard, actions=[SizeShard.qualified.add(flipped.value)])
            return flipped
        except TransactWriteError as error:
            codes = {r.code for r in error.cancellation_reasons or [] if r is not None}
            if codes & _RETRYABLE_CANCELLATIONS:
                _back_off(attempt)
                continue
            if failed_conditions(error)[:1] != [True]:  # the membership is the transaction's first item
                raise
            if change.expires is not None:
                return Outcome.STALE  # the qualification it expires is no longer the one stored
            stored = error.cancellation_reasons[0].raw_item

        current = (State(stored["state"]["S"]), float(stored["ts"]["N"])) if stored else None
        if not supersedes((change.state, change.ts), current):
            return Outcome.STALE
        as_seen = (
            MembershipItem.ts.does_not_exist()
            if current is None
            else (MembershipItem.state == current[0].value) & (MembershipItem.ts == current[1])
        )
        try:
            item.update(actions=set_state, condition=as_seen)
            return Outcome.UPDATED
        except UpdateError as error:
            if not condition_failed(error):
                raise
            # Changed between our two calls: look again.
    raise ContendedError(f"membership kept changing during {_RACE_ATTEMPTS} attempts")


def _back_off(attempt: int) -> None:
    time.sleep(random.uniform(0, _BASE_BACKOFF_SECONDS * 2**attempt))


def qualified_before(tenant_id: str, external_id: str, cutoff: float) -> Iterator[tuple[UserRef, float]]:
    """The audience's members qualified at a ts up to `cutoff`, oldest first: a key range of one index."""
    for item in MembershipItem.qualified_since.query(
        _qualified_in(tenant_id, external_id), MembershipItem.ts <= cutoff
    ):
        field, value = item.pk.removeprefix(f"{tenant_id}#").split("#", 1)
        yield UserRef(field, value), float(item.ts)


def user_memberships(tenant_id: str, user: UserRef) -> dict[str, tuple[State, float]]:
    """Every audience entry of one user (qualified and tombstones), by external id: one Query."""
    return {item.sk: (State(item.state), float(item.ts)) for item in MembershipItem.query(_user_pk(tenant_id, user))}


def audience_sizes(tenant_id: str, external_ids: list[str], in_parallel: Mapper = map) -> dict[str, int]:
    """Exact numbers of qualified members: every shard, in BatchGetItems of 100 keys.

    `in_parallel` (a `map`, such as a thread pool's) may send the requests concurrently: a page
    of 200 audiences is 32 requests, whose latencies should overlap, not add up.
    """
    keys = [(_shard_pk(tenant_id, shard, ext), "SIZE") for ext in external_ids for shard in range(SIZE_SHARDS)]
    batches = [keys[start : start + BATCH_GET_KEYS] for start in range(0, len(keys), BATCH_GET_KEYS)]
    sizes = dict.fromkeys(external_ids, 0)
    for shards in in_parallel(_read_shards, batches):
        for shard in shards:
            sizes[shard.pk.split("#", 3)[3]] += int(shard.qualified)
    return sizes


def _read_shards(keys: list[tuple[str, str]]) -> list[SizeShard]:
    return list(SizeShard.batch_get(keys))
