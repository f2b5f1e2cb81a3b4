"""The streaming diff equals set differences, whatever the chunking and repetition."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from audiences.diff import DiffCounts, SortedRuns, diff

values = st.text(alphabet="abcxyz019_@.é", min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(
    previous=st.sets(values, max_size=30),
    current=st.lists(values, max_size=60),
    chunk=st.integers(1, 7),
)
def test_changes_are_the_set_differences(tmp_path_factory, previous, current, chunk):
    runs = SortedRuns(tmp_path_factory.mktemp("runs"), chunk_members=chunk)
    runs.add_all(current)
    merged = list(runs.merged())
    assert merged == sorted(set(current))
    counts = DiffCounts()
    changes = list(diff(sorted(previous), merged, counts))
    assert {value for joined, value in changes if joined} == set(merged) - previous
    assert {value for joined, value in changes if not joined} == previous - set(merged)
    assert (counts.joined, counts.left, counts.unchanged) == (
        len(set(merged) - previous),
        len(previous - set(merged)),
        len(previous & set(merged)),
    )


def test_a_run_never_holds_more_than_a_chunk(tmp_path):
    runs = SortedRuns(tmp_path, chunk_members=3)
    runs.add_all(f"u{n % 7}" for n in range(20))
    assert all(len(path.read_text().splitlines()) <= 3 for path in runs.paths)
    assert list(runs.merged()) == [f"u{n}" for n in range(7)]


def test_empty_inputs():
    counts = DiffCounts()
    assert list(diff([], [], counts)) == []
    assert list(diff(["a"], [], counts)) == [(False, "a")]
    assert list(diff([], ["b"], counts)) == [(True, "b")]
