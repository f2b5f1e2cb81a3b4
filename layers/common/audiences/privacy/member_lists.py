"""Member lists without the subjects, as a stream: an audience's snapshot and an import's joined and left lists
(Parquet, in DataBucket under imports/), and the snapshots of earlier releases (sorted gzip text).

A list of 10^8 members is gigabytes, so it is never held: the privacy job downloads it to a file under /tmp
(one GET), counts its members that are subjects with Polars' streaming engine, and only if there are any
writes the list without them to a second file, a batch of rows at a time, which goes back by a PUT
conditioned on the ETag read. Memory stays at the engine's buffers whatever the list's size; /tmp holds
two copies of it (docs/architecture.md, "Privacy").

Matching is structural: a list's values are of one identifier field, which its Parquet metadata records
(member_files.IDENTIFIER), and only subjects of that field are removed from it. A list written before the
field was recorded, and a text snapshot, are matched on the value alone.
"""

from __future__ import annotations

import gzip
import re
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from audiences.member_files import GZIP_MAGIC, IDENTIFIER, MEMBER
from audiences.ports.objects import Bucket
from audiences.ports.privacy import Subject
from audiences.wiring import stores

_PARQUET_MAGIC = b"PAR1"
# What the privacy function gets through a member list, at about half the slowest rate measured (performance.md:
# a GET and a PUT at S3's ~90 MB/s a connection, the look and the rewrite at 12-30 MB of Parquet a second).
BYTES_PER_SECOND = 4_000_000
LONGEST_SECONDS = 600  # an estimate past this is held to it, so that a fresh invocation always starts the list
_MEMBER_LIST = re.compile(
    r"imports/tenant=[^/]+/(?:snapshots/.+\.(?:parquet|txt\.gz)|applies/.+/(?:joined|left)\.parquet)"
)


def is_member_list(key: str) -> bool:
    """Whether the object at `key` of the data bucket is a member list, by the importer's key layout (no read)."""
    return _MEMBER_LIST.fullmatch(key) is not None


def seconds_needed(key: str, size: int) -> float:
    """How long a job should have left, beyond its usual margin, before it starts on the object at `key` of `size`
    bytes: a member list is not checkpointed within, so it is started only where it can end."""
    return min(size / BYTES_PER_SECOND, LONGEST_SECONDS) if is_member_list(key) else 0.0


@contextmanager
def downloaded(bucket: Bucket, key: str, version_id: str = "") -> Iterator[tuple[Path, str] | None]:
    """The object (or one of its noncurrent versions) in a file under /tmp, and its ETag, while in the block;
    None if there is none. The directory goes with the block, and with it any file written beside."""
    with tempfile.TemporaryDirectory(prefix="member-list-") as scratch:
        path = Path(scratch) / "held"
        etag = stores().objects.download_object(bucket, key, path, version_id)
        yield None if etag is None else (path, etag)


def without(path: Path, subjects: Collection[Subject], out: Path | None = None) -> bool:
    """Whether the list in the file at `path` names a subject (read up to the first it names); if it does and
    `out` is named, the list without the subjects written to `out`, in the list's format."""
    with path.open("rb") as held:
        magic = held.read(len(_PARQUET_MAGIC))
    if magic == _PARQUET_MAGIC:
        return _parquet_without(path, subjects, out)
    if magic[: len(GZIP_MAGIC)] == GZIP_MAGIC:
        return _text_without(path, {s.value.encode() for s in subjects}, out)
    raise ValueError("a member list is Parquet or gzip text")


def _parquet_without(path: Path, subjects: Collection[Subject], out: Path | None) -> bool:
    import polars as pl  # the engine's layer: the privacy function carries it, the API functions do not

    identifier = pl.read_parquet_metadata(path).get(IDENTIFIER)
    values = sorted({s.value for s in subjects if identifier is None or s.field == identifier})
    if not values:
        return False
    named = pl.col(MEMBER).is_in(values)
    members = pl.scan_parquet(path)
    if members.filter(named).head(1).collect(engine="streaming").is_empty():  # the engine stops at the first
        return False
    if out is not None:
        members.filter(~named).sink_parquet(
            out,
            compression="zstd",
            compression_level=1,  # 3x as fast as Polars' default level, and no larger on member lists
            statistics=False,
            metadata={IDENTIFIER: identifier} if identifier else None,
            maintain_order=False,  # a list is in no order
        )
    return True


def _text_without(path: Path, values: set[bytes], out: Path | None) -> bool:
    """A snapshot of an earlier release: a value a line, sorted, gzip; read and written a line at a time."""
    with gzip.open(path, "rb") as text:
        if not any(line.rstrip(b"\n") in values for line in text):
            return False
    if out is not None:
        with gzip.open(path, "rb") as text, gzip.open(out, "wb", compresslevel=1) as kept:
            kept.writelines(line for line in text if line.rstrip(b"\n") not in values)
    return True
