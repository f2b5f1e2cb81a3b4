"""Who joined and who left: the import's diff of two member lists, on Polars, in bounded memory.

Members (identifier values) arrive in blocks, unsorted and possibly repeated. Each block is split
by a hash of its values into partitions as it arrives, held in memory and, past `spill_members`,
written to Parquet under the scratch directory (Lambda's /tmp is 10 GB). Every list of one diff
is partitioned by the same hash, so each partition is diffed alone: made distinct, anti-joined
both ways and appended to the next snapshot, two at a time. Memory is bounded by a few partitions
even when nothing spilled, which matters: a hash table over 10^6 strings takes several times their
bytes.
A snapshot is one Parquet file of distinct members in no order (the format Polars reads
fastest); snapshots of earlier releases are sorted gzip text and are still read.

Only the imports function carries Polars (its own layer): the importer imports this module
when it computes.
"""

from __future__ import annotations

import gzip
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from audiences.member_files import MEMBER, line_blocks

SPILL_MEMBERS = 4_000_000  # about 200 MB of values held before they go to disk
PARTITIONS = 32  # 10^6 members diff in partitions of about 31,000; 10^8 in about 3 * 10^6
DIFF_THREADS = 2  # the imports function's 3,008 MB buy it two vCPUs
_PARTITION = "partition"
_READ_ROWS = 1_000_000
_EMPTY = pl.Series(MEMBER, [], pl.String)


@dataclass
class DiffCounts:
    joined: int = 0
    left: int = 0
    unchanged: int = 0


@dataclass
class MemberSet:
    """A member list added to in blocks, kept in hash partitions: in memory, and on disk once large."""

    directory: Path
    spill_members: int = SPILL_MEMBERS
    partitions: int = PARTITIONS
    distinct: bool = False  # its values never repeat (a snapshot's): nothing to collapse
    _held: list[list[pl.Series]] = field(init=False)
    _held_count: int = 0
    _spilled_parts: int = 0

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._held = [[] for _ in range(self.partitions)]

    @property
    def spilled(self) -> bool:
        return self._spilled_parts > 0

    def add(self, values: pl.Series) -> None:
        partition = (pl.col(MEMBER).hash(seed=0) % self.partitions).alias(_PARTITION)
        frame = values.rename(MEMBER).to_frame().with_columns(partition)
        for (number,), part in frame.partition_by(_PARTITION, as_dict=True, include_key=False).items():
            self._held[number].append(part[MEMBER])
        self._held_count += len(values)
        if self._held_count > self.spill_members:
            self.spill()

    def add_all(self, blocks: Iterable[pl.Series]) -> None:
        for block in blocks:
            self.add(block)

    def spill(self) -> None:
        """Write what is held to the partitions on disk."""
        for number, held in enumerate(self._held):
            if held:
                path = self._part_path(number, self._spilled_parts)
                pl.concat(held).to_frame().write_parquet(path, compression="lz4", statistics=False)
        self._held, self._held_count = [[] for _ in range(self.partitions)], 0
        self._spilled_parts += 1

    def _part_path(self, partition: int, part: int) -> Path:
        folder = self.directory / f"{partition:03d}"
        folder.mkdir(exist_ok=True)
        return folder / f"{part:06d}.parquet"

    def partition(self, number: int) -> pl.DataFrame:
        """The distinct members of one partition."""
        spilled = (pl.read_parquet(path)[MEMBER] for path in sorted(self.directory.glob(f"{number:03d}/*.parquet")))
        values = pl.concat([_EMPTY, *spilled, *self._held[number]]).to_frame()
        return values if self.distinct else values.unique()


def read_snapshot(path: Path) -> Iterator[pl.Series]:
    """A snapshot's members in blocks: Parquet, or the sorted gzip text of earlier releases."""
    if path.name.endswith(".txt.gz"):
        with gzip.open(path, "rb") as text:
            for block in line_blocks(text):
                if block.data:
                    yield pl.read_csv(
                        block.data, has_header=False, new_columns=[MEMBER], separator="\t", quote_char=None,
                        infer_schema=False, empty_string_is_null=False,
                    )[MEMBER]  # fmt: skip
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


class _Result:
    """One result file assembled from per-partition frames: in memory, or through part files when large."""

    def __init__(self, path: Path, on_disk: bool, metadata: dict[str, str] | None = None) -> None:
        self.path, self.on_disk, self.parts, self.metadata = path, on_disk, [], metadata

    def add(self, frame: pl.DataFrame) -> None:
        if not self.on_disk:
            self.parts.append(frame)
            return
        part = self.path.with_name(f"{self.path.stem}-{len(self.parts):03d}.parquet")
        frame.write_parquet(part, compression="zstd", statistics=False)
        self.parts.append(part)

    def write(self) -> Path:
        written = {"compression": "zstd", "statistics": False, "metadata": self.metadata}
        if self.on_disk:
            pl.scan_parquet(self.parts).sink_parquet(self.path, **written)
            for part in self.parts:
                part.unlink()
        else:
            pl.concat([_EMPTY.to_frame(), *self.parts]).write_parquet(self.path, **written)
        return self.path


def difference(
    previous: MemberSet,
    current: MemberSet,
    directory: Path,
    in_doubt: MemberSet | None = None,
    metadata: dict[str, str] | None = None,
) -> Difference:
    """Diff the lists partition by partition and write the results, each with the key-value `metadata`.
    Members `in_doubt` (an import applied in part may have changed them) are also set as the current
    list says: joined if in it, left if not."""
    sets = [previous, current, *([in_doubt] if in_doubt is not None else [])]
    assert len({members.partitions for members in sets}) == 1, "the lists must share their partitions"
    on_disk = any(members.spilled for members in sets)
    results = {
        name: _Result(directory / f"{name}.parquet", on_disk, metadata) for name in ("joined", "left", "snapshot")
    }
    counts = DiffCounts()

    def diffed(number: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        now, before = current.partition(number), previous.partition(number)
        joined, left = now.join(before, on=MEMBER, how="anti"), before.join(now, on=MEMBER, how="anti")
        if in_doubt is not None:
            doubt = in_doubt.partition(number)
            joined = pl.concat([joined, doubt.join(now, on=MEMBER, how="semi")]).unique()
            left = pl.concat([left, doubt.join(now, on=MEMBER, how="anti")]).unique()
        return joined, left, now

    def kept(joined: pl.DataFrame, left: pl.DataFrame, now: pl.DataFrame) -> None:
        counts.joined += joined.height
        counts.left += left.height
        counts.unchanged += now.height - joined.height
        for name, frame in (("joined", joined), ("left", left), ("snapshot", now)):
            results[name].add(frame)

    # DIFF_THREADS partitions at a time (Polars lets go of the GIL, and one partition's operations are
    # too small to keep every core busy), and no more done ahead of the writing: memory stays bounded
    # by a few partitions.
    with ThreadPoolExecutor(max_workers=DIFF_THREADS, thread_name_prefix="diff") as pool:
        running: deque[Future] = deque()
        for number in range(current.partitions):
            running.append(pool.submit(diffed, number))
            if len(running) > DIFF_THREADS:
                kept(*running.popleft().result())
        while running:
            kept(*running.popleft().result())
    files = {name: result.write() for name, result in results.items()}
    return Difference(files["joined"], files["left"], files["snapshot"], counts)


def values_of(path: Path, rows: int = _READ_ROWS) -> Iterator[list[str]]:
    """The members of a result file, `rows` at a time."""
    lazy = pl.scan_parquet(path)
    for offset in range(0, _rows(path), rows):
        yield lazy.slice(offset, rows).collect()[MEMBER].to_list()


def distinct(lists: list[tuple[tuple[str, str], Path]], directory: Path) -> list[tuple[tuple[str, str], Path, int]]:
    """Lists of members, each with its identity: one distinct list per identity, and its size."""
    by_identity: dict[tuple[str, str], list[Path]] = {}
    for identity, path in lists:
        by_identity.setdefault(identity, []).append(path)
    merged = []
    for number, (identity, paths) in enumerate(by_identity.items()):
        members = MemberSet(directory / f"distinct-{number:03d}")
        for path in paths:
            members.add_all(read_snapshot(path))
        result = _Result(directory / f"distinct-{number:03d}.parquet", members.spilled)
        size = 0
        for partition in range(members.partitions):
            values = members.partition(partition)
            size += values.height
            result.add(values)
        merged.append((identity, result.write(), size))
    return merged


def _rows(path: Path) -> int:
    return pl.scan_parquet(path).select(pl.len()).collect().item()
