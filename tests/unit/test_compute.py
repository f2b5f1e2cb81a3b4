"""The import's diff on the engine: joiners, leavers and the next snapshot, held in memory or spilled
to partitions on disk, always what sets would say."""

from __future__ import annotations

import gzip

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audiences.compute import MemberSet, difference, distinct, read_snapshot, values_of
from audiences.member_files import IDENTIFIER, MEMBER

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


def test_spilling_writes_every_partition_to_disk(tmp_path):
    members = filled(tmp_path, "m", [[f"u{n}" for n in range(50)]] * 3, spill_members=20)
    assert members.spilled
    assert sum(members.partition(n).height for n in range(4)) == 50  # repeats collapse
    assert {path.parent.name for path in (tmp_path / "m").glob("*/*.parquet")} == {"000", "001", "002", "003"}


def test_a_held_set_is_partitioned_too_so_each_diff_is_small(tmp_path):
    members = filled(tmp_path, "m", [[f"u{n}" for n in range(400)]], spill_members=10**6)
    sizes = [members.partition(n).height for n in range(4)]
    assert not members.spilled and sum(sizes) == 400 and max(sizes) < 200


@settings(max_examples=30, deadline=None)
@given(VALUES, VALUES, VALUES, st.sampled_from([2, 10**6]))
def test_users_in_doubt_are_set_as_the_current_list_says(tmp_path_factory, before, now, doubted, spill_members):
    directory = tmp_path_factory.mktemp("doubt")
    previous, current = filled(directory, "p", [before], spill_members), filled(directory, "c", [now], spill_members)
    in_doubt = filled(directory, "d", [doubted], spill_members)  # a failed import may have changed these
    result = difference(previous, current, directory, in_doubt)
    old, new, doubt = set(before), set(now), set(doubted)
    assert members_of(result.joined) == sorted((new - old) | (doubt & new))  # qualified again in case it was not
    assert members_of(result.left) == sorted((old - new) | (doubt - new))  # disqualified in case it was qualified
    assert members_of(result.snapshot) == sorted(new)
    assert (result.counts.joined, result.counts.left) == (
        len((new - old) | (doubt & new)),
        len((old - new) | (doubt - new)),
    )
    assert result.counts.unchanged == len(new) - result.counts.joined


def test_snapshots_of_either_format_read_back_and_lists_of_one_identity_merge(tmp_path):
    text = tmp_path / "old.txt.gz"
    text.write_bytes(gzip.compress(b'a\nb,"quoted"\n'))
    long_text = tmp_path / "long.txt.gz"
    long_text.write_bytes(gzip.compress("".join(f"member-{n:07d}\n" for n in range(1_200_000)).encode()))
    parquet = tmp_path / "new.parquet"
    pl.DataFrame({MEMBER: ['b,"quoted"', "c"]}).write_parquet(parquet)
    empty = tmp_path / "empty.txt.gz"
    empty.write_bytes(gzip.compress(b""))
    assert [v for block in read_snapshot(text) for v in block] == ["a", 'b,"quoted"']
    assert [v for block in read_snapshot(empty) for v in block] == []
    blocks = list(read_snapshot(long_text))  # read a block at a time, not whole
    assert len(blocks) > 1 and sum(len(block) for block in blocks) == 1_200_000
    merged = distinct([(("email", "x"), text), (("vuid", "x"), parquet), (("email", "x"), parquet)], tmp_path / "d")
    assert [(identity, size) for identity, _, size in merged] == [(("email", "x"), 3), (("vuid", "x"), 2)]
    assert members_of(merged[0][1]) == ["a", 'b,"quoted"', "c"]


@pytest.mark.parametrize("spill_members", [2, 10**6])
def test_every_result_file_carries_the_metadata_it_is_given(tmp_path, spill_members):
    previous = filled(tmp_path, "p", [["a", "b"]], spill_members)
    current = filled(tmp_path, "c", [["b", "c", "d"]], spill_members)
    result = difference(previous, current, tmp_path, metadata={IDENTIFIER: "email"})
    for path in (result.joined, result.left, result.snapshot):
        assert pl.read_parquet_metadata(path)[IDENTIFIER] == "email"
