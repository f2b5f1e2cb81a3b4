"""Member lists without the subjects (audiences.privacy.member_lists): only the values of the list's identifier
field, in either format, and in memory that does not grow with the list."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import polars as pl
import pytest

from audiences.member_files import IDENTIFIER, MEMBER
from audiences.ports.privacy import Subject
from audiences.privacy import member_lists

ANN, BOB = Subject("fs_user_id", "ann"), Subject("email", "bob")


def written(path, members: list[str], identifier: str | None = "fs_user_id", **options):
    frame = pl.DataFrame({MEMBER: members}, schema={MEMBER: pl.String})
    frame.write_parquet(path, metadata={IDENTIFIER: identifier} if identifier else None, **options)
    return path


def test_only_values_of_the_lists_identifier_field_go_and_the_field_stays_recorded(tmp_path):
    held = written(tmp_path / "held", ["ann", "bob", "carl"])
    assert member_lists.without(held, [ANN, BOB], tmp_path / "kept")  # bob is an email here, not a user id
    assert pl.read_parquet(tmp_path / "kept")[MEMBER].sort().to_list() == ["bob", "carl"]
    assert pl.read_parquet_metadata(tmp_path / "kept")[IDENTIFIER] == "fs_user_id"
    assert not member_lists.without(held, [BOB, Subject("vuid", "ann")], tmp_path / "none")
    assert not (tmp_path / "none").exists()  # nothing named: nothing written


def test_a_list_that_does_not_record_its_field_is_matched_on_the_value_alone(tmp_path):
    held = written(tmp_path / "held", ["ann", "bob", "carl"], identifier=None)
    assert member_lists.without(held, [ANN, BOB], tmp_path / "kept")
    assert pl.read_parquet(tmp_path / "kept")[MEMBER].to_list() == ["carl"]


def test_looking_alone_writes_nothing_and_a_list_of_subjects_only_becomes_an_empty_list(tmp_path):
    held = written(tmp_path / "held", ["ann"])
    assert member_lists.without(held, [ANN]) and not (tmp_path / "kept").exists()
    assert member_lists.without(held, [ANN], tmp_path / "kept")
    kept = pl.read_parquet(tmp_path / "kept")
    assert kept.height == 0 and kept.schema == pl.Schema({MEMBER: pl.String})


def test_a_text_snapshot_of_an_earlier_release_keeps_its_other_lines_in_order(tmp_path):
    held = tmp_path / "held"
    held.write_bytes(gzip.compress(b"ann\nannie\nbob\ncarl\n"))
    assert member_lists.without(held, [ANN, BOB], tmp_path / "kept")
    assert gzip.decompress((tmp_path / "kept").read_bytes()) == b"annie\ncarl\n"
    held.write_bytes(b"neither")
    with pytest.raises(ValueError):
        member_lists.without(held, [ANN])


@pytest.mark.parametrize(
    ("key", "is_list"),
    [
        ("imports/tenant=t/snapshots/vip_users/20261201T000000000Z-abc.parquet", True),
        ("imports/tenant=t/snapshots/vip_users/20261201T000000000Z-abc.txt.gz", True),
        ("imports/tenant=t/applies/vip_users/20261201T000000000Z-abc/joined.parquet", True),
        ("imports/tenant=t/applies/vip_users/20261201T000000000Z-abc/left.parquet", True),
        ("imports/tenant=t/applies/vip_users/20261201T000000000Z-abc/000001.json.gz", False),
        ("changes/tenant=t/vip_users/20261201T000000000Z-abc/changes.bin", False),
        ("events/tenant=t/date=2026-12-01/part-0001.gz", False),
    ],
)
def test_member_lists_are_known_by_their_keys(key, is_list):
    assert member_lists.is_member_list(key) is is_list


# The peak is VmHWM, this process's own: ru_maxrss survives exec, so it would start at the test process's size.
PEAK = """
import json, re, sys
from pathlib import Path
import polars as pl
from audiences.ports.privacy import Subject
from audiences.privacy import member_lists

subjects = [Subject("fs_user_id", f"user-{n:09d}") for n in range(0, 10**6, 1000)]
named = member_lists.without(Path(sys.argv[1]), subjects, Path(sys.argv[2]))
kept = pl.scan_parquet(sys.argv[2]).select(pl.len()).collect().item()
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1])
print(json.dumps({"named": named, "kept": kept, "peak_mb": peak_kb / 1024}))
"""


def rewrite_peak(tmp_path, members: int) -> dict:
    """The rewrite of a list of `members` in a process of its own: what it removed, and its peak RSS."""
    held = tmp_path / f"held-{members}"
    pl.select(pl.format("user-{}", pl.int_range(members).cast(pl.String).str.zfill(9)).alias(MEMBER)).write_parquet(
        held, metadata={IDENTIFIER: "fs_user_id"}, compression="zstd", statistics=False
    )
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run(
        [sys.executable, "-c", PEAK, str(held), str(tmp_path / f"kept-{members}")],
        env=env,
        capture_output=True,
        check=True,
        text=True,
    )
    return json.loads(run.stdout)


def test_the_rewrites_memory_does_not_grow_with_the_list(tmp_path):
    small, large = rewrite_peak(tmp_path, 2_000_000), rewrite_peak(tmp_path, 8_000_000)
    assert small["named"] and large["named"]
    assert (small["kept"], large["kept"]) == (2_000_000 - 1000, 8_000_000 - 1000)
    # Held whole (the bytes, the frame, the copy without the subjects), 6 * 10^6 more members of 14 bytes
    # added 280 MB; streamed, the engine's buffers are full by 2 * 10^6 members.
    assert large["peak_mb"] - small["peak_mb"] < 50, (small, large)
