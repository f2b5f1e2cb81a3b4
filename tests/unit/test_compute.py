"""The import's diff on the engine: joiners, leavers and the next snapshot, held in memory or spilled
to partitions on disk, always what sets would say."""

from __future__ import annotations

import gzip

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from audiences.compute import MemberSet, difference, distinct, read_snapshot, settled, values_of
from audiences.member_files import MEMBER

VALUES = st.lists(st.text(st.characters(codec="utf-8", categories=["L", "N", "P"]), min_size=1, max_size=8))


def filled(directory, name, blocks, spill_members):
    members = MemberSet(directory / name, spill_members=spill_members, partitions=4)
    members.add_all(pl.Series(MEMBER, block, pl.String) for block in blocks)
    return members


def members_of(path) -> list[str]:
    return sorted(value for block in values_of(path, rows=3) for value in block)


@settings(max_examples=60, deadline=None)
@given(st.lists(VALUES, max_size=4), st.lists(VALUES, max_size=4), st.sampled_from([2, 5, 10**6]))
def test_the_difference_is_what_sets_say_held_or_spilled(tmp_path_factory, before, now, spill_members):
    directory = tmp_path_factory.mktemp("diff")
    previous = filled(directory, "previous", before, spill_members)
    current = filled(directory, "current", now, spill_members)
    old, new = {v for block in before for v in block}, {v for block in now for v in block}
    result = difference(previous, current, directory)
    assert members_of(result.joined) == sorted(new - old)
    assert members_of(result.left) == sorted(old - new)
    assert members_of(result.snapshot) == sorted(new)
    assert (result.counts.joined, result.counts.left, result.counts.unchanged) == (
        len(new - old),
        len(old - new),
        len(new & old),
    )


def test_spilling_writes_partitions_and_holds_nothing(tmp_path):
    members = filled(tmp_path, "m", [[f"u{n}" for n in range(50)]] * 3, spill_members=20)
    assert members.spilled and not members._held
    assert sum(members.partition(n).height for n in range(4)) == 50  # repeats collapse
    assert len(list((tmp_path / "m").glob("*/*.parquet"))) >= 4


def test_users_in_doubt_are_set_as_the_current_list_says(tmp_path):
    previous = filled(tmp_path, "p", [["a", "b", "c"]], 10)
    current = filled(tmp_path, "c", [["b", "c", "d"]], 10)
    base = difference(previous, current, tmp_path)
    doubt = tmp_path / "doubt.parquet"
    pl.DataFrame({MEMBER: ["c", "x", "a", "d"]}).write_parquet(doubt)  # a failed import touched these
    result = settled(base, [doubt], tmp_path)
    assert members_of(result.joined) == ["c", "d"]  # c is a member: qualified again in case it was not
    assert members_of(result.left) == ["a", "x"]  # x is not: disqualified in case it was qualified
    assert (result.counts.joined, result.counts.left, result.counts.unchanged) == (2, 2, 1)


def test_snapshots_of_either_format_read_back_and_lists_of_one_identity_merge(tmp_path):
    text = tmp_path / "old.txt.gz"
    text.write_bytes(gzip.compress(b'a\nb,"quoted"\n'))
    parquet = tmp_path / "new.parquet"
    pl.DataFrame({MEMBER: ['b,"quoted"', "c"]}).write_parquet(parquet)
    empty = tmp_path / "empty.txt.gz"
    empty.write_bytes(gzip.compress(b""))
    assert [v for block in read_snapshot(text) for v in block] == ["a", 'b,"quoted"']
    assert [v for block in read_snapshot(empty) for v in block] == []
    merged = distinct([(("email", "x"), text), (("vuid", "x"), parquet), (("email", "x"), parquet)])
    assert [(identity, size) for identity, _, size in merged] == [(("email", "x"), 3), (("vuid", "x"), 2)]
    assert members_of(merged[0][1]) == ["a", 'b,"quoted"', "c"]
