"""Membership items and audience sizes: the only code that writes either.

A change is applied with no read before the write. It is first tried as the transition that
moves the audience's size (a user becoming qualified, or a qualified user leaving), conditioned
on the state that makes it such a transition. Changes are grouped by audience, cut into pieces
of at most 99, and each piece moves one of the audience's size shards, picked afresh for the
call (any shard will do: a size is the sum of all of them); pieces are packed into shared
transactions (≤ 100 items: memberships, then one `ADD` of each piece's net delta to its shard),
so a membership and the size it moves still change together, in one atomic request, at up to
99 changes per shard write, and concurrent writers of one audience meet on one shard only by
the chance of picking it.

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
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, wait
from dataclasses import dataclass, replace
from itertools import islice

from pynamodb.exceptions import DeleteError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from audiences.domain import MembershipChange, State, UserRef, supersedes
from audiences.ports.memberships import ContendedError, Mapper, Outcome
from audiences.stores import clients
from audiences.stores.conditions import condition_failed
from audiences.stores.models import MembershipItem, SizeShard

SIZE_SHARDS = 16  # fixed: sizes are read by summing shards 0..15
# The QualifiedSince index's partitions per audience: a user's qualifications always land in the
# same one, so that each takes 1/32 of the audience's index writes (about a sixth of its write units).
INDEX_SHARDS = 32
BATCH_GET_KEYS = 100  # DynamoDB's most keys per BatchGetItem
TRANSACTION_ITEMS = 100  # DynamoDB's most items per TransactWriteItems
_RACE_ATTEMPTS = 8  # conditions failed by a write that raced another writer of the same membership
_CONFLICT_ATTEMPTS = 8  # cancellations by conflicts or throttling on its membership; each halves the transaction
_SHARD_CONFLICT_ATTEMPTS = 16  # cancellations by another writer holding the size shard; each moves to the next
# Transactions a call has in flight per audience at once: its writers' share of the 16 shards, so
# that the apply function's 10 concurrent workers meet on one shard only now and then.
PIECES_PER_ROUND = 2
_RETRYABLE_CANCELLATIONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
_BASE_BACKOFF_SECONDS = 0.025
_DUE_PER_PARTITION = 100  # due members read from each index partition at a time: a batch is up to 3,300


def _user_pk(tenant_id: str, user: UserRef) -> str:
    return f"{tenant_id}#{user.field}#{user.value}"


def _shard_pk(tenant_id: str, shard: int, external_id: str) -> str:
    return f"SIZE#{tenant_id}#{shard}#{external_id}"


def index_shard(user: UserRef) -> int:
    """The QualifiedSince partition a user's qualifications are in: always the same, spread evenly."""
    digest = hashlib.blake2b(f"{user.field}#{user.value}".encode(), digest_size=4).digest()
    return int.from_bytes(digest) % INDEX_SHARDS


def _qualified_in(tenant_id: str, external_id: str, user: UserRef) -> str:
    return f"{tenant_id}#{external_id}#{index_shard(user)}"


def _index_partitions(tenant_id: str, external_id: str) -> list[str]:
    """Every QualifiedSince partition of an audience: its shards, and the one unsharded key of items
    written before the index was sharded (read until they are all rewritten or expired)."""
    return [f"{tenant_id}#{external_id}", *(f"{tenant_id}#{external_id}#{n}" for n in range(INDEX_SHARDS))]


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
    shard_conflicts: int = 0  # cancellations because another writer held its piece's size shard

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

    def actions(self, tenant_id: str) -> list:
        change = self.change
        actions = [MembershipItem.state.set(change.state.value), MembershipItem.ts.set(change.ts)]
        if change.state is State.QUALIFIED:
            actions.append(MembershipItem.qualified_in.set(_qualified_in(tenant_id, change.external_id, change.user)))
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

    def shard_held(self) -> _Write:
        """Its size shard was held by another writer: it goes again as it was, on the audience's next shard."""
        if self.shard_conflicts + 1 >= _SHARD_CONFLICT_ATTEMPTS:
            raise ContendedError(f"size shards were held by other writers {_SHARD_CONFLICT_ATTEMPTS} times")
        return replace(self, shard_conflicts=self.shard_conflicts + 1)

    @property
    def capacity(self) -> int:
        """Items of the transaction it may share: halved by every conflict and every race it lost."""
        return max(2, TRANSACTION_ITEMS >> (self.conflicts + self.races))


@dataclass(frozen=True)
class _Piece:
    """Writes of one audience sharing a transaction, and the size shard their net delta moves."""

    shard: str
    writes: list[_Write]

    @property
    def items(self) -> int:
        return len(self.writes) + 1


def write_all(tenant_id: str, changes: Sequence[MembershipChange], pool: Executor) -> list[Outcome]:
    """Apply changes, at most one per (user, audience); the outcome of each, in their order.

    In rounds: each round's transactions go out concurrently from `pool`, and what they did not
    settle is re-planned for the next. A failure is raised only once every request of its round
    has ended, so no write outlives the call (Lambda would freeze it mid-flight), and the caller
    may retry the whole call: what was applied is then stale, the rest applies.
    """
    outcomes: list[Outcome] = [Outcome.STALE] * len(changes)
    pending = [_Write(index, change) for index, change in enumerate(changes)]
    next_shards: dict[str, int] = {}  # per audience, the shard its next piece takes: from a random one, onwards
    while pending:
        transactions, pending = _pack(tenant_id, pending, next_shards)
        futures = [pool.submit(_send, tenant_id, pieces) for pieces in transactions]
        wait(futures)
        for future in futures:
            settled, again = future.result()
            for write, outcome in settled:
                outcomes[write.index] = outcome
            pending += again
    return outcomes


def _pack(tenant_id: str, writes: list[_Write], next_shards: dict[str, int]) -> tuple[list[list[_Piece]], list[_Write]]:
    """This round's transactions, and the writes left for the next.

    Writes are grouped by audience and cut into pieces that fit their capacity (a piece's
    memberships plus its one shard item); an audience sends at most PIECES_PER_ROUND pieces a
    round, each on the audience's next shard (from a random one for the call, so concurrent calls
    spread over the shards, and a retry lands on another shard than the one that was held).
    """
    classes: dict[int, dict[str, list[_Write]]] = {}
    for write in writes:
        classes.setdefault(write.capacity, {}).setdefault(write.change.external_id, []).append(write)
    transactions: list[list[_Piece]] = []
    later: list[_Write] = []
    pieces_sent: Counter[str] = Counter()
    for capacity, audiences in classes.items():
        current: list[_Piece] = []
        for external_id, group in audiences.items():
            for start in range(0, len(group), capacity - 1):
                if pieces_sent[external_id] == PIECES_PER_ROUND:
                    later += group[start:]
                    break
                pieces_sent[external_id] += 1
                shard = next_shards.setdefault(external_id, random.randrange(SIZE_SHARDS)) % SIZE_SHARDS
                next_shards[external_id] = shard + 1
                piece = _Piece(_shard_pk(tenant_id, shard, external_id), group[start : start + capacity - 1])
                if sum(p.items for p in current) + piece.items > capacity:
                    transactions.append(current)
                    current = []
                current.append(piece)
        if current:
            transactions.append(current)
    return transactions, later


Settled = list[tuple[_Write, Outcome]]


def _send(tenant_id: str, pieces: list[_Piece]) -> tuple[Settled, list[_Write]]:
    """One request for the pieces' writes: what it settled, and what the next round must send again."""
    writes = [write for piece in pieces for write in piece.writes]
    if len(writes) == 1 and writes[0].delta == 0:
        return _update_as_seen(tenant_id, writes[0])
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
            for piece in pieces:
                if delta := sum(write.delta for write in piece.writes):
                    transaction.update(SizeShard(piece.shard, "SIZE"), actions=[SizeShard.qualified.add(delta)])
    except TransactWriteError as error:
        return _after_cancellation(writes, error)
    return [(write, write.outcome) for write in writes], []


def _after_cancellation(writes: list[_Write], error: TransactWriteError) -> tuple[Settled, list[_Write]]:
    """Memberships whose condition failed are settled or re-planned from the item DynamoDB returned;
    the others go again as they were, or, if the transaction met a conflict or throttling, after a
    jittered back-off: in smaller transactions if a membership was held, on other shards if a shard was."""
    reasons = error.cancellation_reasons
    codes = {reason.code for reason in reasons if reason is not None}
    if not reasons or codes - _RETRYABLE_CANCELLATIONS - {"ConditionalCheckFailed"}:
        raise error
    on_memberships = {reason.code for reason in reasons[: len(writes)] if reason is not None}
    conflicted = bool(on_memberships & _RETRYABLE_CANCELLATIONS)
    shard_held = not conflicted and bool(codes & _RETRYABLE_CANCELLATIONS)  # the conflict was on a shard
    settled: Settled = []
    again: list[_Write] = []
    for write, reason in zip(writes, reasons, strict=False):  # the shard items come after the memberships
        if reason is not None and reason.code == "ConditionalCheckFailed":
            planned = write.after_failed_condition(reason.raw_item)
            if isinstance(planned, Outcome):
                settled.append((write, planned))
            else:
                again.append(planned)
        elif conflicted:
            again.append(write.conflicted())
        elif shard_held:
            again.append(write.shard_held())
        else:
            again.append(write)
    if conflicted or shard_held:
        _back_off(max(max(write.conflicts, write.shard_conflicts) for write in again) if again else 0)
    return settled, again


def _update_as_seen(tenant_id: str, write: _Write) -> tuple[Settled, list[_Write]]:
    """A change that moves no size, alone: one UpdateItem conditioned on exactly the state seen."""
    try:
        write.item(tenant_id).update(actions=write.actions(tenant_id), condition=write.condition())
    except UpdateError as error:
        if error.cause_response_code == "TransactionConflictException":  # a transaction in flight holds it
            _back_off(write.conflicts)
            return [], [write.conflicted()]
        if not condition_failed(error):
            raise
        # Changed since we saw it: the transition, which returns what is stored now, goes next.
        if write.races + 1 >= _RACE_ATTEMPTS:
            raise ContendedError(f"membership kept changing during {_RACE_ATTEMPTS} attempts") from error
        return [], [replace(write, seen=_UNSEEN, races=write.races + 1)]
    return [(write, Outcome.UPDATED)], []


def _back_off(attempt: int) -> None:
    time.sleep(random.uniform(0, _BASE_BACKOFF_SECONDS * 2**attempt))


def qualified_before(
    tenant_id: str, external_id: str, cutoff: float, in_parallel: Mapper = map
) -> Iterator[list[tuple[UserRef, float]]]:
    """The audience's members qualified at a ts up to `cutoff`, in batches: a key range of each of its
    index partitions, read a page of each at once (`in_parallel`), oldest first within each."""
    pages = [
        MembershipItem.qualified_since.query(partition, MembershipItem.ts <= cutoff, page_size=_DUE_PER_PARTITION)
        for partition in _index_partitions(tenant_id, external_id)
    ]  # lazy: no request until read
    while pages:
        read = list(in_parallel(lambda page: list(islice(page, _DUE_PER_PARTITION)), pages))
        pages = [page for page, items in zip(pages, read, strict=True) if len(items) == _DUE_PER_PARTITION]
        if due := [(_user_of(tenant_id, item.pk), float(item.ts)) for items in read for item in items]:
            yield due


def _user_of(tenant_id: str, pk: str) -> UserRef:
    field, value = pk.removeprefix(f"{tenant_id}#").split("#", 1)
    return UserRef(field, value)


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


def delete_tombstones(tenant_id: str, user: UserRef, tombstones: dict[str, float]) -> int:
    """A DeleteItem of each tombstone named, conditioned on it being exactly that tombstone: a write that
    landed since (a newer event) keeps its entry."""
    deleted, pk = 0, _user_pk(tenant_id, user)
    for external_id, ts in tombstones.items():
        try:
            MembershipItem(pk, external_id).delete(
                condition=(MembershipItem.state == State.DISQUALIFIED.value) & (MembershipItem.ts == ts)
            )
            deleted += 1
        except DeleteError as error:
            if not condition_failed(error):
                raise  # a conflict with a transaction in flight too: the job's retry deletes it
            # else written since it was read: a newer entry, which is not the erasure's
    return deleted
