"""How a round's writes are packed into transactions: pure, no AWS."""

from __future__ import annotations

from dataclasses import replace

from audiences.domain import MembershipChange, State, UserRef
from audiences.stores.memberships import PIECES_PER_ROUND, SIZE_SHARDS, TRANSACTION_ITEMS, _pack, _Write

USERS = [UserRef("fs_user_id", f"u{n}") for n in range(400)]


def write(index: int, user: UserRef, audience: str = "a", **kwargs) -> _Write:
    return _Write(index, MembershipChange(user, audience, State.QUALIFIED, 1.0), **kwargs)


def test_an_audience_sends_a_few_pieces_a_round_each_on_its_next_shard():
    writes = [write(n, user) for n, user in enumerate(USERS)]
    next_shards = {"a": 15}
    first, later = _pack("t", writes, next_shards)
    pieces = [piece for transaction in first for piece in transaction]
    assert len(pieces) == PIECES_PER_ROUND and [len(p.writes) for p in pieces] == [99, 99]
    assert [p.shard for p in pieces] == ["SIZE#t#15#a", "SIZE#t#0#a"]  # on from the call's first shard, round
    second, _ = _pack("t", later, next_shards)
    assert [p.shard for t in second for p in t] == ["SIZE#t#1#a", "SIZE#t#2#a"]  # a retry lands on another


def test_transactions_hold_whole_pieces_within_their_capacity():
    writes = [write(n, user, audience=f"a{n % 40}") for n, user in enumerate(USERS)]
    transactions, later = _pack("t", writes, {})
    for transaction in transactions:
        assert sum(piece.items for piece in transaction) <= TRANSACTION_ITEMS
        assert len({piece.shard for piece in transaction}) == len(transaction)
    sent = [w for transaction in transactions for piece in transaction for w in piece.writes]
    assert sorted(w.index for w in sent + later) == list(range(len(USERS))) and not later
    assert all(transactions)
    halved = [replace(w, conflicts=3) for w in writes[:40]]
    assert max(sum(p.items for p in t) for t in _pack("t", halved, {})[0]) <= TRANSACTION_ITEMS >> 3


def test_every_shard_is_used_as_pieces_go_round():
    writes = [write(n, user) for n, user in enumerate(USERS * 4)]
    next_shards: dict[str, int] = {}
    shards = set()
    while writes:
        transactions, writes = _pack("t", writes, next_shards)
        shards |= {piece.shard for transaction in transactions for piece in transaction}
    assert len(shards) == SIZE_SHARDS
