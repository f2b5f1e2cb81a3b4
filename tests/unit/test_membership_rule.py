"""The last-writer-wins rule: order and duplication never change the outcome."""

from __future__ import annotations

from functools import reduce

from hypothesis import given
from hypothesis import strategies as st

from audiences.domain import State, batched, supersedes

changes = st.tuples(st.sampled_from(list(State)), st.integers(min_value=0, max_value=5).map(float))


def fold(sequence):
    return reduce(lambda current, change: change if supersedes(change, current) else current, sequence, None)


@given(st.lists(changes, min_size=1, max_size=12), st.randoms())
def test_any_order_and_duplication_gives_the_same_final_state(history, random):
    shuffled = history + random.sample(history, k=len(history) // 2)
    random.shuffle(shuffled)
    assert fold(shuffled) == fold(history)


@given(st.lists(changes, min_size=1, max_size=12))
def test_final_state_is_the_latest_with_disqualify_breaking_ties(history):
    latest = max(ts for _, ts in history)
    at_latest = {state for state, ts in history if ts == latest}
    expected = State.DISQUALIFIED if State.DISQUALIFIED in at_latest else State.QUALIFIED
    assert fold(history) == (expected, latest)


def test_first_change_always_applies():
    assert supersedes((State.QUALIFIED, 0.0), None)


def test_equal_replay_does_not_apply_again():
    assert not supersedes((State.QUALIFIED, 5.0), (State.QUALIFIED, 5.0))
    assert not supersedes((State.DISQUALIFIED, 5.0), (State.DISQUALIFIED, 5.0))


@given(st.lists(st.integers(), max_size=30), st.integers(min_value=1, max_value=7))
def test_batches_keep_every_item_in_order_and_only_the_last_is_short(items, size):
    batches = list(batched(items, size))
    assert [item for batch in batches for item in batch] == items
    assert all(len(batch) == size for batch in batches[:-1]) and all(0 < len(batch) <= size for batch in batches)
