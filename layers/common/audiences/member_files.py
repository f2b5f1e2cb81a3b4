"""What the importer needs of a file of audience members, whatever its dialect's format.

A dialect's parser (ODP's CSV, Adobe's source files) reads one uploaded file as a stream of
blocks of whole lines and yields, a block at a time, the identifier values of its valid rows;
it collects row errors with their line numbers instead of raising them, and raises
`FileRejected` only when the file as a whole cannot be read. The importer then decides:
nothing is applied unless the whole file was valid.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import queue
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Protocol

from audiences.domain import Audience, Tenant

if TYPE_CHECKING:  # only the imports function carries the engine (its own layer)
    import polars as pl

MAX_ERRORS = 20
MEMBER = "member"  # the name of a column of member values
# A member list's Parquet key-value metadata: the identifier field its values are of, so that an erasure
# removes only the values of that field (a list written before it was recorded has none).
IDENTIFIER = "audiences.identifier"
GZIP_MAGIC = b"\x1f\x8b"
# A line is refused before it is held past this size, so reading holds at most one block and
# one such line whatever the file (a member row is at most ~2.2 KB: a 1,024-byte identifier,
# an audience id of the same bound, and a few short columns).
MAX_LINE_BYTES = 8 * 1024
BLOCK_BYTES = 16 * 1024 * 1024  # what a parser judges at once
# Decompression bombs: the text may be at most this many times the compressed size, with a
# floor for small files (CSV compresses 5-20x), and never more than the absolute cap.
MAX_EXPANSION_RATIO = 100
EXPANSION_FLOOR_BYTES = 64 * 1024 * 1024
# 10^8 rows of ~50 bytes, with room: the members, spilled in partitions, fit Lambda's 10 GB /tmp.
MAX_TEXT_BYTES = 8 * 1024 * 1024 * 1024


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
    identifier: str  # the identifier field the values are of; known once blocks() has started

    def blocks(self) -> Iterator[pl.Series]:
        """Every valid row's identifier value, a block of the file at a time (in no set order within a
        block: a fast path yields what it accepts at once first); raises FileRejected."""
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

    def blocks(self) -> Iterator[pl.Series]:
        for name, open_file in self.files:
            try:
                self._current = open_file()
                yield from self._current.blocks()
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


@dataclass(frozen=True)
class LineBlock:
    """Whole lines of a file: a parser judges a block at once, fast when it is plain."""

    first_line: int  # the number of the block's first line
    data: bytes  # whole lines, each ending in a line feed except perhaps the file's last
    last: bool  # no line follows


def line_blocks(data: BinaryIO) -> Iterator[LineBlock]:
    """The stream cut into blocks of whole lines (about BLOCK_BYTES), each line refused past
    MAX_LINE_BYTES before it is held: reading holds at most one block and one such line."""
    pending, first_line = b"", 1
    while True:
        chunk = data.read(BLOCK_BYTES)
        buffer = pending + chunk if pending else chunk
        end = buffer.rfind(b"\n") + 1 if chunk else len(buffer)
        block, pending = (buffer, b"") if end == len(buffer) else (buffer[:end], buffer[end:])
        if len(pending) > MAX_LINE_BYTES:  # the block's own lines are checked by whoever reads them
            raise_too_long(first_line + block.count(b"\n"))
        if block or not chunk:
            yield LineBlock(first_line, block, last=not chunk)
        if not chunk:
            return
        first_line += block.count(b"\n")


def header_and_rest(blocks: Iterator[LineBlock]) -> tuple[LineBlock, Iterator[LineBlock]]:
    """The file's first line as a block of its own (the header), and the blocks of every line after it."""
    first = next(blocks)
    end = first.data.find(b"\n") + 1 or len(first.data)
    return LineBlock(1, first.data[:end], last=first.last and end == len(first.data)), _after_header(first, end, blocks)


def _after_header(first: LineBlock, end: int, blocks: Iterator[LineBlock]) -> Iterator[LineBlock]:
    rest = LineBlock(2, first.data[end:], first.last)
    del first  # hold one copy of the first block's lines, not two
    yield rest
    del rest
    yield from blocks


def read_ahead(blocks: Iterator[LineBlock]) -> Iterator[LineBlock]:
    """The same blocks, the next one read (decompressed, which frees the GIL) on a thread while the
    caller judges this one; an exception of the reading is raised where its block would have been."""
    ahead: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def read() -> None:
        try:
            for block in blocks:
                ahead.put(block)
                if stop.is_set():
                    return
            ahead.put(None)
        except BaseException as error:  # handed to the caller, in order
            ahead.put(error)

    reader = threading.Thread(target=read, name="read-ahead", daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting to hand over a block
            with contextlib.suppress(queue.Empty):
                ahead.get(timeout=0.05)


def raise_too_long(line: int) -> None:
    raise FileRejected(
        f"line {line} is longer than {MAX_LINE_BYTES} bytes: a member row is far shorter; "
        "is the file an audience file with one row per line?"
    )


def check_line_lengths(block: LineBlock) -> None:
    """FileRejected naming the block's first line longer than MAX_LINE_BYTES, if any."""
    if len(block.data) <= MAX_LINE_BYTES:
        return
    lengths = [len(line) for line in block.data.split(b"\n")]
    if max(lengths) > MAX_LINE_BYTES:
        raise_too_long(block.first_line + next(i for i, length in enumerate(lengths) if length > MAX_LINE_BYTES))


class TextLines:
    """The lines of blocks as UTF-8 text, without their line breaks. Iterating yields each line once
    the reader has finished the one before it (`finished_line`): a CSV row that would run on over
    several lines is refused, not accumulated, also at the end of blocks the last of which is not
    the file's last (the rest of its lines are judged elsewhere, and the row cannot end there).
    """

    def __init__(self, blocks: Iterable[LineBlock]) -> None:
        self._blocks = blocks
        self.yielded = self.finished = 0  # lines handed out, and lines whose row the reader completed

    @classmethod
    def of(cls, data: BinaryIO) -> TextLines:
        """Every line of a stream."""
        return cls(line_blocks(data))

    def finished_line(self) -> None:
        self.finished += 1

    def __iter__(self) -> Iterator[str]:
        block = None
        for block in self._blocks:
            if self.yielded == 0:  # the first block may start anywhere in the file
                self.yielded = self.finished = block.first_line - 1
            yield from self._lines(block)
        if block is not None and not block.last and self.finished != self.yielded:
            self._run_on()

    def _lines(self, block: LineBlock) -> Iterator[str]:
        if not block.data:
            return
        check_line_lengths(block)
        try:
            text = block.data.decode()
        except UnicodeDecodeError as error:
            line = self.yielded + 1 + block.data[: error.start].count(b"\n")
            raise FileRejected(f"line {line} is not UTF-8 text: save the file as UTF-8") from error
        for line in text.removesuffix("\n").split("\n"):
            if self.yielded == 0:
                line = line.removeprefix("\ufeff")  # a byte order mark some tools write
            elif self.finished != self.yielded:
                self._run_on()
            self.yielded += 1
            yield line

    def _run_on(self) -> None:
        raise FileRejected(
            f"line {self.yielded}: a quoted value runs on over the next line; values hold no line breaks"
        )
