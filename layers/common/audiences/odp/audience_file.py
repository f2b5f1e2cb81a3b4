"""ODP's audience file: the gzip CSV of an audience's complete current member list.

    type,action,audience_id,ts,fs_user_id
    passthrough,qualify,vip_users,1748851070,user-123

Columns in any order: type, action, audience_id, ts and exactly one identifier column that
is high-confidence for the tenant. A file is read as a stream; its rows are checked as they
pass, the first errors are kept with their line numbers, and the caller decides nothing is
applied unless the whole file was valid.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from audiences.domain import Audience, Confidence, Tenant, checked_ts

REQUIRED_COLUMNS = ("type", "action", "audience_id", "ts")
MAX_ERRORS = 20
MAX_IDENTIFIER_BYTES = 1024
# Decompression bombs: the text may be at most this many times the compressed size, with a
# floor for small files (CSV compresses 5-20x), and never more than the absolute cap.
MAX_EXPANSION_RATIO = 100
EXPANSION_FLOOR_BYTES = 64 * 1024 * 1024
MAX_TEXT_BYTES = 4 * 1024 * 1024 * 1024


class FileRejected(Exception):
    """The file as a whole cannot be read; the message says why and what to send instead."""


@dataclass
class RowErrors:
    first: list[tuple[int, str]] = field(default_factory=list)
    count: int = 0

    def add(self, line: int, message: str) -> None:
        self.count += 1
        if len(self.first) < MAX_ERRORS:
            self.first.append((line, message))


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


@dataclass
class AudienceFile:
    """The member values of one audience file, validated as they stream past."""

    body: BinaryIO
    compressed_size: int
    tenant: Tenant
    audience: Audience
    now: float
    max_future_skew: float
    identifier: str = ""
    rows: int = 0
    errors: RowErrors = field(default_factory=RowErrors)

    def members(self) -> Iterator[str]:
        """Every valid row's identifier value; errors are collected, not raised."""
        if self.compressed_size == 0:
            raise FileRejected("the file is empty (0 bytes): upload a gzip CSV with at least a header row")
        text = io.TextIOWrapper(
            io.BufferedReader(_Bounded(self.body, text_limit(self.compressed_size))), encoding="utf-8-sig", newline=""
        )
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise FileRejected("the file has no header row: the first line names the columns")
            columns = self._columns(header)
            for row in reader:
                if row == []:
                    continue  # a trailing blank line
                self.rows += 1
                value = self._row(reader.line_num, row, columns)
                if value is not None:
                    yield value
        except UnicodeDecodeError as error:
            raise FileRejected(
                f"the file is not UTF-8 text (byte {error.start} of a chunk): save it as UTF-8"
            ) from error
        except csv.Error as error:
            raise FileRejected(f"line {reader.line_num}: the CSV is malformed: {error}") from error

    def _columns(self, header: list[str]) -> dict[str, int]:
        names = [name.strip() for name in header]
        missing = [name for name in REQUIRED_COLUMNS if name not in names]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        extra = [name for name in names if name not in REQUIRED_COLUMNS]
        allowed = self.tenant.high_confidence_identifiers()
        identifiers = [name for name in extra if self.tenant.confidence(name) is Confidence.HIGH]
        unknown = [name for name in extra if name not in identifiers]
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if duplicated:
            problems.append(f"repeated column(s) {', '.join(duplicated)}")
        if unknown:
            problems.append(
                f"unknown column(s) {', '.join(unknown)} (an identifier column must be one of: {', '.join(allowed)})"
            )
        if len(identifiers) != 1 and not unknown:
            problems.append(
                f"exactly one identifier column is needed (one of: {', '.join(allowed)}), got {len(identifiers)}"
            )
        if problems:
            raise FileRejected(
                "line 1: the header must be type, action, audience_id, ts and one identifier column: "
                + "; ".join(problems)
            )
        self.identifier = identifiers[0]
        return {name: names.index(name) for name in (*REQUIRED_COLUMNS, self.identifier)}

    def _row(self, line: int, row: list[str], columns: dict[str, int]) -> str | None:
        if len(row) != len(columns):
            self.errors.add(line, f"expected {len(columns)} fields, got {len(row)}")
            return None
        kind, action, audience_id, ts, value = (row[columns[name]] for name in (*REQUIRED_COLUMNS, self.identifier))
        message = None
        if kind != "passthrough":
            message = f"type must be 'passthrough', got {kind!r}"
        elif action != "qualify":
            message = (
                f"action must be 'qualify' (the file lists members; who is missing is disqualified), got {action!r}"
            )
        elif audience_id not in (self.audience.key, self.audience.external_id):
            message = f"audience_id must be {self.audience.key!r} or {self.audience.external_id!r}, got {audience_id!r}"
        elif not value:
            message = f"{self.identifier} is empty"
        elif len(value.encode()) > MAX_IDENTIFIER_BYTES:
            message = f"{self.identifier} is longer than {MAX_IDENTIFIER_BYTES} bytes"
        elif "\n" in value or "\r" in value:
            message = f"{self.identifier} contains a line break"
        else:
            message = self._ts_problem(ts)
        if message:
            self.errors.add(line, message)
            return None
        return value

    def _ts_problem(self, raw: str) -> str | None:
        try:
            number = float(raw) if any(c in raw for c in ".eE") else int(raw)
        except ValueError:
            return f"ts must be epoch seconds, got {raw!r}"
        try:
            checked_ts(number, self.now, self.max_future_skew)
        except ValueError as error:
            return str(error)
        return None
