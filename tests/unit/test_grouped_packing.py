"""How a round's writes are packed into transactions: pure, no AWS."""

from __future__ import annotations

from dataclasses import replace

from audiences.domain import MembershipChange, State, UserRef
from audiences.stores.memberships import TRANSACTION_ITEMS, _pack, _Write, shard_of

USERS = [UserRef("fs_user_id", f"u{n}") for n in range(400)]


def write(index: int, user: UserRef, **kwargs) -> _Write:
    return _Write(index, MembershipChange(user, "a", State.QUALIFIED, 1.0), **kwargs)


def test_a_shard_busy_in_another_class_leaves_no_empty_transaction():
    a, b = [user for user in USERS if shard_of(user) == 0][:2]
    calm, conflicted = write(0, a), write(1, b, conflicts=1)  # one shard, two capacity classes
    transactions, later = _pack("t", [calm, conflicted])
    assert transactions == [[calm]] and later == [conflicted]


def test_transactions_hold_whole_groups_within_their_capacity():
    writes = [write(n, user) for n, user in enumerate(USERS)]
    transactions, later = _pack("t", writes)
    for transaction in transactions:
        shards = {w.shard("t") for w in transaction}
        assert len(transaction) + len(shards) <= TRANSACTION_ITEMS
    sent = [w for transaction in transactions for w in transaction]
    assert sorted(w.index for w in sent + later) == list(range(len(USERS)))
    assert all(transaction for transaction in transactions)
    halved = [replace(w, conflicts=3) for w in writes[:40]]
    assert max(len(t) + len({w.shard("t") for w in t}) for t in _pack("t", halved)[0]) <= TRANSACTION_ITEMS >> 3
