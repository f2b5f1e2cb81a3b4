"""Who joined and who left: a streaming diff of member lists, in memory bounded by a chunk.

Members (identifier values, which never hold line breaks) arrive unsorted and possibly
repeated. They are collapsed and sorted a chunk at a time into run files, the runs are
merged into one sorted, duplicate-free stream, and that stream is merge-compared with the
previous member list (kept sorted). Nothing ever holds more than one chunk of members.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby, islice
from pathlib import Path

CHUNK_MEMBERS = 200_000


@dataclass
class DiffCounts:
    joined: int = 0
    left: int = 0
    unchanged: int = 0


@dataclass
class SortedRuns:
    """Members written as sorted, duplicate-free run files under `directory`."""

    directory: Path
    chunk_members: int = CHUNK_MEMBERS
    paths: list[Path] = field(default_factory=list)

    def add_all(self, members: Iterable[str]) -> None:
        """Sort and store `members`, at most `chunk_members` of them in memory at once."""
        members = iter(members)
        while chunk := set(islice(members, self.chunk_members)):
            self._write(chunk)

    def _write(self, chunk: set[str]) -> None:
        path = self.directory / f"run-{len(self.paths):05d}.txt"
        with path.open("w", encoding="utf-8") as run:
            run.writelines(f"{value}\n" for value in sorted(chunk))
        self.paths.append(path)

    def merged(self) -> Iterator[str]:
        """Every member once, in sorted order (a value may sit in several runs; it collapses here)."""
        files = [path.open(encoding="utf-8") for path in self.paths]
        try:
            for line, _ in groupby(heapq.merge(*files)):
                yield line[:-1]
        finally:
            for file in files:
                file.close()


def diff(previous: Iterable[str], current: Iterable[str], counts: DiffCounts) -> Iterator[tuple[bool, str]]:
    """(True, value) for who joined, (False, value) for who left; both inputs sorted and unique."""
    previous_values, current_values = iter(previous), iter(current)
    old, new = next(previous_values, None), next(current_values, None)
    while old is not None or new is not None:
        if new is not None and (old is None or new < old):
            counts.joined += 1
            yield True, new
            new = next(current_values, None)
        elif old is not None and (new is None or old < new):
            counts.left += 1
            yield False, old
            old = next(previous_values, None)
        else:
            counts.unchanged += 1
            old, new = next(previous_values, None), next(current_values, None)


def written(values: Iterable[str], out) -> Iterator[str]:
    """The values, each also written to `out` as a line as it passes (the next snapshot)."""
    for value in values:
        out.write(value + "\n")
        yield value
