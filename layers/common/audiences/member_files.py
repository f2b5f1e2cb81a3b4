"""What the importer needs of a file of audience members, whatever its dialect's format.

A dialect's parser (ODP's CSV today) reads one uploaded file as a stream and yields the
identifier value of every valid row; it collects row errors with their line numbers instead
of raising them, and raises `FileRejected` only when the file as a whole cannot be read.
The importer then decides: nothing is applied unless the whole file was valid.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from audiences.domain import Audience, Tenant

MAX_ERRORS = 20
# Decompression bombs: the text may be at most this many times the compressed size, with a
# floor for small files (CSV compresses 5-20x), and never more than the absolute cap.
MAX_EXPANSION_RATIO = 100
EXPANSION_FLOOR_BYTES = 64 * 1024 * 1024
MAX_TEXT_BYTES = 4 * 1024 * 1024 * 1024


class FileRejected(Exception):
    """The file as a whole cannot be read; the message says why and what to send instead."""


@dataclass
class RowErrors:
    """The first MAX_ERRORS row errors with their line numbers, and how many there were."""

    first: list[tuple[int, str]] = field(default_factory=list)
    count: int = 0

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.first) < MAX_ERRORS:
            self.first.append((line, message))


class MemberFile(Protocol):
    rows: int  # data rows read so far
    errors: RowErrors
    identifier: str  # the identifier field the values are of; known once members() has started

    def members(self) -> Iterator[str]:
        """Every valid row's identifier value, in file order; raises FileRejected."""
        ...


@dataclass(frozen=True)
class FileContext:
    """What a parser checks rows against."""

    tenant: Tenant
    audience: Audience
    now: float  # for the ts rules
    max_future_skew: float


# A dialect's parser: (the upload's bytes, its compressed size, the context) -> a MemberFile.
FileReader = Callable[[BinaryIO, int, FileContext], MemberFile]


class _Bounded(io.RawIOBase):
    """Decompressed bytes, refused past `limit`: a small upload cannot become unbounded work."""

    def __init__(self, gzipped: BinaryIO, limit: int) -> None:
        self._gzip = gzip.GzipFile(fileobj=gzipped, mode="rb")
        self._limit = limit
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._gzip.read(len(buffer))
        except gzip.BadGzipFile as error:
            raise FileRejected("the file is not gzip-compressed: upload a .csv.gz made with gzip") from error
        except (EOFError, zlib.error) as error:
            raise FileRejected("the gzip data is truncated or corrupt: upload the file again") from error
        self.read_bytes += len(data)
        if self.read_bytes > self._limit:
            raise FileRejected(
                f"the file expands to more than {self._limit} bytes: at most {MAX_EXPANSION_RATIO}x its "
                f"compressed size (and {MAX_TEXT_BYTES} bytes) is accepted"
            )
        buffer[: len(data)] = data
        return len(data)


def text_limit(compressed_size: int) -> int:
    return min(MAX_TEXT_BYTES, max(EXPANSION_FLOOR_BYTES, MAX_EXPANSION_RATIO * compressed_size))


def gunzipped(body: BinaryIO, compressed_size: int) -> BinaryIO:
    """The decompressed bytes of a gzip upload, bounded against decompression bombs."""
    if compressed_size == 0:
        raise FileRejected("the file is empty (0 bytes): upload a gzip file with at least a header row")
    return io.BufferedReader(_Bounded(body, text_limit(compressed_size)))
