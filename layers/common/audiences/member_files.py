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
GZIP_MAGIC = b"\x1f\x8b"
# A line is refused before it is held past this size, so reading holds at most one chunk and
# one such line whatever the file (a member row is at most ~2.2 KB: a 1,024-byte identifier,
# an audience id of the same bound, and a few short columns).
MAX_LINE_BYTES = 8 * 1024
_CHUNK_BYTES = 1024 * 1024
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
    limit: int = MAX_ERRORS

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.first) < self.limit:
            self.first.append((line, message))


class MemberFile(Protocol):
    rows: int  # data rows read so far
    errors: RowErrors
    identifier: str  # the identifier field the values are of; known once members() has started

    def members(self) -> Iterator[str]:
        """Every valid row's identifier value, in file order; raises FileRejected."""
        ...


@dataclass
class MemberFiles:
    """Several files read as one member list, in order: rows summed, errors named `<file>: <reason>`.

    Each file is opened only when the one before it has been read, so at most one is open.
    """

    files: list[tuple[str, Callable[[], MemberFile]]]  # a name for errors, and how to open the file
    limit: int = MAX_ERRORS
    identifier: str = ""

    def __post_init__(self) -> None:
        self.errors = RowErrors(limit=self.limit)
        self._done_rows = 0
        self._current: MemberFile | None = None

    @property
    def rows(self) -> int:
        return self._done_rows + (self._current.rows if self._current else 0)

    def members(self) -> Iterator[str]:
        for name, open_file in self.files:
            try:
                self._current = open_file()
                yield from self._current.members()
            except FileRejected as rejected:
                raise FileRejected(f"{name}: {rejected}") from rejected
            self.identifier = self._current.identifier
            for line, message in self._current.errors.first:
                self.errors.add(line, f"{name}: {message}")
            self.errors.count += self._current.errors.count - len(self._current.errors.first)
            self._done_rows += self._current.rows
            self._current = None


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
            if str(error).startswith("Not a gzipped file"):
                raise FileRejected("the file is not gzip-compressed: upload a .csv.gz made with gzip") from error
            raise FileRejected(f"the gzip data is corrupt ({error}): upload the file again") from error
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


class _Prefixed(io.RawIOBase):
    """`head`, already read off `rest`, then the rest: a peek at a stream that cannot seek."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._head[: len(buffer)] if self._head else self._rest.read(len(buffer))
        self._head = self._head[len(data) :] if self._head else b""
        buffer[: len(data)] = data
        return len(data)


def decompressed(body: BinaryIO, size: int) -> BinaryIO:
    """The bytes of a file that may be gzip-compressed (told by its first bytes, not its name)."""
    if size == 0:
        raise FileRejected("the file is empty (0 bytes): upload a file with at least a header row")
    head = body.read(len(GZIP_MAGIC))
    whole = io.BufferedReader(_Prefixed(head, body))
    return gunzipped(whole, size) if head == GZIP_MAGIC else whole


class TextLines:
    """The lines of a UTF-8 text stream, without their line breaks, each refused past MAX_LINE_BYTES
    before it is held. Iterating yields each line once the reader has finished the one before it
    (`finished_line`): a CSV row that would run on over several lines is refused, not accumulated.
    """

    def __init__(self, data: BinaryIO, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._data = data
        self._max = max_line_bytes
        self.yielded = 0  # lines handed out
        self.finished = 0  # lines whose row the reader has completed

    def finished_line(self) -> None:
        self.finished += 1

    def __iter__(self) -> Iterator[str]:
        pending = b""
        while chunk := self._data.read(_CHUNK_BYTES):
            pieces = (pending + chunk).split(b"\n")
            pending = pieces.pop()
            self._check_lengths(pieces, pending)
            yield from self._lines(pieces)
        if pending:
            yield from self._lines([pending])

    def _check_lengths(self, pieces: list[bytes], pending: bytes) -> None:
        longest = max(map(len, pieces), default=0)
        if longest > self._max or len(pending) > self._max:
            line = self.yielded + 1 + next((i for i, p in enumerate(pieces) if len(p) > self._max), len(pieces))
            raise FileRejected(
                f"line {line} is longer than {self._max} bytes: a member row is far shorter; "
                "is the file an audience file with one row per line?"
            )

    def _lines(self, pieces: list[bytes]) -> Iterator[str]:
        if not pieces:
            return
        try:
            text = b"\n".join(pieces).decode()
        except UnicodeDecodeError as error:
            line = self.yielded + 1 + b"\n".join(pieces)[: error.start].count(b"\n")
            raise FileRejected(f"line {line} is not UTF-8 text: save the file as UTF-8") from error
        for line in text.split("\n"):
            if self.yielded == 0:
                line = line.removeprefix("\ufeff")  # a byte order mark some tools write
            elif self.finished != self.yielded:
                raise FileRejected(
                    f"line {self.yielded}: a quoted value runs on over the next line; values hold no line breaks"
                )
            self.yielded += 1
            yield line
