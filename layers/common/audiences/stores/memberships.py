"""Membership items and audience sizes: the only code that writes either.

A change is applied with no read before the write. It is first tried as the transition that
moves the audience's size (a user becoming qualified, or a qualified user leaving), conditioned
on the state that makes it such a transition. Changes are grouped by the size shard they move
and the groups packed into shared transactions (≤ 100 items: memberships, then one `ADD` of each
group's net delta to its shard), so a membership and the size it moves still change together,
in one atomic request, at a few changes per request instead of one.

A cancelled transaction names the memberships whose condition failed and returns each one's
stored item. Those are re-planned against exactly the state just seen — stale, or a write
conditioned on that state, with the size effect it implies — and everything goes out again in
the next round, the rest of the transaction unchanged. Every write is a single atomic request
whose condition fails on a replay, so duplicates, reordering, concurrency and a crash between
any two requests followed by a retry all leave states and sizes exact.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, wait
from dataclasses import dataclass, replace
from enum import Enum

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from audiences.domain import MembershipChange, State, UserRef, supersedes
from audiences.stores import clients
from audiences.stores.conditions import condition_failed
from audiences.stores.models import MembershipItem, SizeShard

SIZE_SHARDS = 16  # fixed: sizes are read by summing shards 0..15
BATCH_GET_KEYS = 100  # DynamoDB's most keys per BatchGetItem
TRANSACTION_ITEMS = 100  # DynamoDB's most items per TransactWriteItems
Mapper = Callable[[Callable, Iterable], Iterator]
_RACE_ATTEMPTS = 8  # conditions failed by a write that raced another writer of the same membership
_CONFLICT_ATTEMPTS = 8  # cancellations by conflicts or throttling; each halves the transaction
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


def shard_of(user: UserRef) -> int:
    """The size shard a user's changes move: always the same one, and spread evenly over the 16."""
    return hashlib.blake2b(f"{user.field}#{user.value}".encode(), digest_size=2).digest()[0] % SIZE_SHARDS


def _qualified_in(tenant_id: str, external_id: str) -> str:
    return f"{tenant_id}#{external_id}"


Stored = tuple[State, float] | None
_UNSEEN = object()  # a write planned without knowing what is stored: the optimistic transition


@dataclass(frozen=True)
class _Write:
    """One change as the next request will send it: its condition and the size delta it implies."""

    index: int  # the change's position in the caller's list
    change: MembershipChange
    seen: Stored | object = _UNSEEN  # the state it is conditioned on, once one was seen
    races: int = 0  # conditions it failed because the membership changed after it was seen
    conflicts: int = 0  # cancellations of its transaction by conflicts or throttling

    @property
    def delta(self) -> int:
        joins = int(self.change.state is State.QUALIFIED)
        if self.seen is _UNSEEN:
            return 1 if joins else -1
        return joins - int(self.seen is not None and self.seen[0] is State.QUALIFIED)

    @property
    def outcome(self) -> Outcome:
        return Outcome(self.delta)

    def item(self, tenant_id: str) -> MembershipItem:
        return MembershipItem(_user_pk(tenant_id, self.change.user), self.change.external_id)

    def shard(self, tenant_id: str) -> str:
        return _shard_pk(tenant_id, shard_of(self.change.user), self.change.external_id)

    def actions(self, tenant_id: str) -> list:
        change = self.change
        actions = [MembershipItem.state.set(change.state.value), MembershipItem.ts.set(change.ts)]
        if change.state is State.QUALIFIED:
            actions.append(MembershipItem.qualified_in.set(_qualified_in(tenant_id, change.external_id)))
        else:
            actions.append(MembershipItem.qualified_in.remove())
        return actions

    def condition(self):
        change, seen = self.change, self.seen
        if seen is None:
            return MembershipItem.ts.does_not_exist()
        if seen is not _UNSEEN:
            return (MembershipItem.state == seen[0].value) & (MembershipItem.ts == seen[1])
        if change.state is State.QUALIFIED:
            return MembershipItem.ts.does_not_exist() | (
                (MembershipItem.state == State.DISQUALIFIED.value) & (MembershipItem.ts < change.ts)
            )
        latest = MembershipItem.ts <= change.ts if change.expires is None else MembershipItem.ts == change.expires
        return (MembershipItem.state == State.QUALIFIED.value) & latest

    def after_failed_condition(self, stored: dict | None) -> _Write | Outcome:
        """What to do once DynamoDB answered with the stored item: stale, or a write as of that item."""
        if self.change.expires is not None:
            return Outcome.STALE  # the qualification it expires is no longer the one stored
        current = (State(stored["state"]["S"]), float(stored["ts"]["N"])) if stored else None
        if not supersedes((self.change.state, self.change.ts), current):
            return Outcome.STALE
        races = self.races + (self.seen is not _UNSEEN)
        if races >= _RACE_ATTEMPTS:
            raise ContendedError(f"membership kept changing during {_RACE_ATTEMPTS} attempts")
        return replace(self, seen=current, races=races)

    def conflicted(self) -> _Write:
        if self.conflicts + 1 >= _CONFLICT_ATTEMPTS:
            raise ContendedError(f"transaction conflicted {_CONFLICT_ATTEMPTS} times")
        return replace(self, conflicts=self.conflicts + 1)

    @property
    def capacity(self) -> int:
        """Items of the transaction it may share: halved by every conflict and every race it lost."""
        return max(2, TRANSACTION_ITEMS >> (self.conflicts + self.races))


def write_all(tenant_id: str, changes: Sequence[MembershipChange], pool: Executor) -> list[Outcome]:
    """Apply changes, at most one per (user, audience); the outcome of each, in their order.

    In rounds: each round's transactions go out concurrently from `pool`, and what they did not
    settle is re-planned for the next. A failure is raised only once every request of its round
    has ended, so no write outlives the call (Lambda would freeze it mid-flight), and the caller
    may retry the whole call: what was applied is then stale, the rest applies.
    """
    outcomes: list[Outcome] = [Outcome.STALE] * len(changes)
    pending = [_Write(index, change) for index, change in enumerate(changes)]
    while pending:
        transactions, pending = _pack(tenant_id, pending)
        futures = [pool.submit(_send, tenant_id, writes) for writes in transactions]
        wait(futures)
        for future in futures:
            settled, again = future.result()
            for write, outcome in settled:
                outcomes[write.index] = outcome
            pending += again
    return outcomes


def _pack(tenant_id: str, writes: list[_Write]) -> tuple[list[list[_Write]], list[_Write]]:
    """This round's transactions, and the writes left for the next.

    Writes are grouped by the size shard they move, and whole groups share a transaction while
    they fit (a group's memberships plus its one shard item), so a transaction touches exactly
    the shards its changes would have touched one by one. A shard goes out in one transaction a
    round: two concurrent transactions on one shard would only conflict with each other.
    """
    classes: dict[int, dict[str, list[_Write]]] = {}
    for write in writes:
        classes.setdefault(write.capacity, {}).setdefault(write.shard(tenant_id), []).append(write)
    transactions: list[list[_Write]] = []
    later: list[_Write] = []
    busy: set[str] = set()
    for capacity, groups in classes.items():
        current: list[_Write] = []
        items = 0
        for shard, group in groups.items():
            if shard in busy:
                later += group
                continue
            busy.add(shard)
            piece, rest = group[: capacity - 1], group[capacity - 1 :]
            later += rest
            if items + len(piece) + 1 > capacity:
                transactions.append(current)
                current, items = [], 0
            current += piece
            items += len(piece) + 1
        if current:  # empty when every group of the class waits for a shard busy this round
            transactions.append(current)
    return transactions, later


Settled = list[tuple[_Write, Outcome]]


def _send(tenant_id: str, writes: list[_Write]) -> tuple[Settled, list[_Write]]:
    """One request for `writes`: what it settled, and what the next round must send again."""
    if len(writes) == 1 and writes[0].delta == 0:
        return _update_as_seen(tenant_id, writes[0])
    deltas: dict[str, int] = {}
    for write in writes:
        deltas[write.shard(tenant_id)] = deltas.get(write.shard(tenant_id), 0) + write.delta
    try:
        # PynamoDB sends a transaction's updates in the order added: cancellation reasons line up with `writes`.
        with TransactWrite(connection=clients.dynamodb()) as transaction:
            for write in writes:
                transaction.update(
                    write.item(tenant_id),
                    actions=write.actions(tenant_id),
                    condition=write.condition(),
                    return_values="ALL_OLD",
                )
            for shard, delta in deltas.items():
                if delta:
                    transaction.update(SizeShard(shard, "SIZE"), actions=[SizeShard.qualified.add(delta)])
    except TransactWriteError as error:
        return _after_cancellation(writes, error)
    return [(write, write.outcome) for write in writes], []


def _after_cancellation(writes: list[_Write], error: TransactWriteError) -> tuple[Settled, list[_Write]]:
    """Memberships whose condition failed are settled or re-planned from the item DynamoDB returned;
    the others go again as they were, or, if the transaction met a conflict or throttling, after a
    jittered back-off in smaller transactions."""
    reasons = error.cancellation_reasons
    codes = {reason.code for reason in reasons if reason is not None}
    if not reasons or codes - _RETRYABLE_CANCELLATIONS - {"ConditionalCheckFailed"}:
        raise error
    conflicted = bool(codes & _RETRYABLE_CANCELLATIONS)
    settled: Settled = []
    again: list[_Write] = []
    for write, reason in zip(writes, reasons, strict=False):  # the shard items come after the memberships
        if reason is not None and reason.code == "ConditionalCheckFailed":
            planned = write.after_failed_condition(reason.raw_item)
            if isinstance(planned, Outcome):
                settled.append((write, planned))
            else:
                again.append(planned)
        else:
            again.append(write.conflicted() if conflicted else write)
    if conflicted:
        _back_off(max(write.conflicts for write in again))
    return settled, again


def _update_as_seen(tenant_id: str, write: _Write) -> tuple[Settled, list[_Write]]:
    """A change that moves no size, alone: one UpdateItem conditioned on exactly the state seen."""
    try:
        write.item(tenant_id).update(actions=write.actions(tenant_id), condition=write.condition())
    except UpdateError as error:
        if not condition_failed(error):
            raise
        # Changed since we saw it: the transition, which returns what is stored now, goes next.
        if write.races + 1 >= _RACE_ATTEMPTS:
            raise ContendedError(f"membership kept changing during {_RACE_ATTEMPTS} attempts") from error
        return [], [replace(write, seen=_UNSEEN, races=write.races + 1)]
    return [(write, Outcome.UPDATED)], []


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


def user_memberships_in(tenant_id: str, user: UserRef, external_ids: set[str]) -> dict[str, tuple[State, float]]:
    """The user's entries for these audiences only (at most 100): one BatchGetItem, whatever else they are in."""
    pk = _user_pk(tenant_id, user)
    items = MembershipItem.batch_get([(pk, external_id) for external_id in external_ids])
    return {item.sk: (State(item.state), float(item.ts)) for item in items}


def user_known(tenant_id: str, user: UserRef) -> bool:
    """Whether any entry of the user is stored: one Query of at most one key."""
    return any(MembershipItem.query(_user_pk(tenant_id, user), limit=1, attributes_to_get=["pk"]))


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
