"""Who joined and who left: the import's diff of two member lists, on Polars, in bounded memory.

Members (identifier values) arrive in blocks, unsorted and possibly repeated. While a list is
small it is held in memory; past `spill_members` it is hash-partitioned into Parquet files
under the scratch directory, and so is the other list, by the same hash, so each partition is
diffed alone: memory is bounded by a partition, the disk by the lists (Lambda's /tmp is 10 GB).
Each partition is made distinct, anti-joined both ways and appended to the next snapshot.
A snapshot is one Parquet file of distinct members in no order (the format Polars reads
fastest); snapshots of earlier releases are sorted gzip text and are still read.

Only the imports function carries Polars (its own layer): the importer imports this module
when it computes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from audiences.member_files import MEMBER

SPILL_MEMBERS = 4_000_000  # about 200 MB of values, and the hash tables of a diff twice that
PARTITIONS = 32  # on spilling: 10^8 members make partitions of about 3 * 10^6
_PARTITION = "partition"
_READ_ROWS = 1_000_000


@dataclass
class DiffCounts:
    joined: int = 0
    left: int = 0
    unchanged: int = 0


@dataclass
class MemberSet:
    """A member list added to in blocks: held in memory, or, once spilled, partitioned on disk."""

    directory: Path
    spill_members: int = SPILL_MEMBERS
    partitions: int = PARTITIONS
    distinct: bool = False  # its values never repeat (a snapshot's): nothing to collapse
    _held: list[pl.Series] = field(default_factory=list)
    _held_count: int = 0
    _spilled_parts: int = 0

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    @property
    def spilled(self) -> bool:
        return self._spilled_parts > 0

    def add(self, values: pl.Series) -> None:
        self._held.append(values.rename(MEMBER))
        self._held_count += len(values)
        if self.spilled or self._held_count > self.spill_members:
            self.spill()

    def add_all(self, blocks: Iterable[pl.Series]) -> None:
        for block in blocks:
            self.add(block)

    def spill(self) -> None:
        """Write what is held to the partitions on disk; later blocks go there too."""
        held = pl.concat(self._held) if self._held else pl.Series(MEMBER, [], pl.String)
        self._held, self._held_count = [], 0
        frame = held.to_frame().with_columns((pl.col(MEMBER).hash(seed=0) % self.partitions).alias(_PARTITION))
        for (partition,), part in frame.partition_by(_PARTITION, as_dict=True, include_key=False).items():
            part.write_parquet(self._part_path(partition, self._spilled_parts), compression="lz4", statistics=False)
        self._spilled_parts += 1

    def _part_path(self, partition: int, part: int) -> Path:
        folder = self.directory / f"{partition:03d}"
        folder.mkdir(exist_ok=True)
        return folder / f"{part:06d}.parquet"

    def partition(self, number: int) -> pl.DataFrame:
        """The distinct members of one partition (of the only one, if the set never spilled)."""
        if not self.spilled:
            values = (pl.concat(self._held) if self._held else pl.Series(MEMBER, [], pl.String)).to_frame()
        else:
            files = sorted((self.directory / f"{number:03d}").glob("*.parquet"))
            values = pl.read_parquet(files) if files else pl.DataFrame({MEMBER: []}, schema={MEMBER: pl.String})
        return values if self.distinct else values.unique()


def read_snapshot(path: Path) -> Iterator[pl.Series]:
    """A snapshot's members in blocks: Parquet, or the sorted gzip text of earlier releases."""
    if path.name.endswith(".txt.gz"):
        text = pl.read_csv(
            path, has_header=False, new_columns=[MEMBER], separator="\t", quote_char=None,
            infer_schema=False, empty_string_is_null=False, raise_if_empty=False,
        )  # fmt: skip
        yield text[MEMBER] if text.width else pl.Series(MEMBER, [], pl.String)
        return
    lazy = pl.scan_parquet(path)
    for offset in range(0, _rows(path), _READ_ROWS):
        yield lazy.slice(offset, _READ_ROWS).collect()[MEMBER]


@dataclass(frozen=True)
class Difference:
    joined: Path  # Parquet: the members in the current list and not the previous one
    left: Path  # Parquet: the other way round
    snapshot: Path  # Parquet: the current list, distinct
    counts: DiffCounts


def difference(previous: MemberSet, current: MemberSet, directory: Path) -> Difference:
    """Diff the lists partition by partition (both are spilled if either is) and write the results."""
    if previous.spilled != current.spilled:
        (current if previous.spilled else previous).spill()
    count = current.partitions if current.spilled else 1
    counts = DiffCounts()
    outputs = {name: [] for name in ("joined", "left", "snapshot")}
    files = {name: directory / f"{name}.parquet" for name in outputs}
    for number in range(count):
        now, before = current.partition(number), previous.partition(number)
        parts = {
            "joined": now.join(before, on=MEMBER, how="anti"),
            "left": before.join(now, on=MEMBER, how="anti"),
            "snapshot": now,
        }
        counts.joined += parts["joined"].height
        counts.left += parts["left"].height
        counts.unchanged += now.height - parts["joined"].height
        for name, frame in parts.items():
            path = files[name] if count == 1 else directory / f"{name}-{number:03d}.parquet"
            frame.write_parquet(path, compression="zstd", statistics=False)
            outputs[name].append(path)
    for name, parts in outputs.items():
        if count > 1:
            pl.scan_parquet(parts).sink_parquet(files[name], compression="zstd", statistics=False)
            for part in parts:
                part.unlink()
    return Difference(files["joined"], files["left"], files["snapshot"], counts)


def values_of(path: Path, rows: int = _READ_ROWS) -> Iterator[list[str]]:
    """The members of a result file, `rows` at a time."""
    lazy = pl.scan_parquet(path)
    for offset in range(0, _rows(path), rows):
        yield lazy.slice(offset, rows).collect()[MEMBER].to_list()


def settled(difference: Difference, in_doubt: list[Path], directory: Path) -> Difference:
    """Also set every member of the `in_doubt` lists as the current list says: joined if in it, left if not."""
    if not in_doubt:
        return difference
    doubt = pl.scan_parquet(in_doubt).unique()
    snapshot = pl.scan_parquet(difference.snapshot)
    joined = pl.concat([pl.scan_parquet(difference.joined), doubt.join(snapshot, on=MEMBER, how="semi")]).unique()
    left = pl.concat([pl.scan_parquet(difference.left), doubt.join(snapshot, on=MEMBER, how="anti")]).unique()
    files = {"joined": directory / "settled-joined.parquet", "left": directory / "settled-left.parquet"}
    joined.sink_parquet(files["joined"], compression="zstd", statistics=False)
    left.sink_parquet(files["left"], compression="zstd", statistics=False)
    joined_count, left_count = (_rows(files[name]) for name in ("joined", "left"))
    counts = DiffCounts(joined_count, left_count, _rows(difference.snapshot) - joined_count)
    return Difference(files["joined"], files["left"], difference.snapshot, counts)


def distinct(lists: list[tuple[tuple[str, str], Path]]) -> list[tuple[tuple[str, str], Path, int]]:
    """Lists of members, each with its identity: one distinct list per identity, and its size."""
    by_identity: dict[tuple[str, str], list[Path]] = {}
    for identity, path in lists:
        by_identity.setdefault(identity, []).append(path)
    merged = []
    for number, (identity, paths) in enumerate(by_identity.items()):
        blocks = [block for path in paths for block in read_snapshot(path)]
        values = (pl.concat(blocks) if blocks else pl.Series(MEMBER, [], pl.String)).to_frame().unique()
        path = paths[0].parent / f"distinct-{number:03d}.parquet"
        values.write_parquet(path, compression="zstd", statistics=False)
        merged.append((identity, path, values.height))
    return merged


def _rows(path: Path) -> int:
    return pl.scan_parquet(path).select(pl.len()).collect().item()
