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
from operator import itemgetter
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
    # A file repeats a few ts values over and over: each is judged once.
    _ts_verdicts: dict[str, str | None] = field(default_factory=dict)

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
            width, pick = len(columns), itemgetter(*(columns[name] for name in (*REQUIRED_COLUMNS, self.identifier)))
            accepted_ids = (self.audience.key, self.audience.external_id)
            for row in reader:
                if not row:
                    continue  # a trailing blank line
                self.rows += 1
                if len(row) != width:
                    self.errors.add(reader.line_num, f"expected {width} fields, got {len(row)}")
                    continue
                kind, action, audience_id, ts, value = pick(row)
                if (
                    kind == "passthrough"
                    and action == "qualify"
                    and audience_id in accepted_ids
                    and value
                    and len(value) <= MAX_IDENTIFIER_BYTES // 4  # no UTF-8 check needed: short enough
                    and "\n" not in value
                    and "\r" not in value
                    and self._ts_problem(ts) is None
                ):
                    yield value  # the common case, checked as cheaply as it can be
                elif message := self._row_problem(kind, action, audience_id, ts, value):
                    self.errors.add(reader.line_num, message)
                else:
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

    def _row_problem(self, kind: str, action: str, audience_id: str, ts: str, value: str) -> str | None:
        """What is wrong with a row, or None."""
        if kind != "passthrough":
            return f"type must be 'passthrough', got {kind!r}"
        if action != "qualify":
            return f"action must be 'qualify' (the file lists members; who is missing is disqualified), got {action!r}"
        if audience_id not in (self.audience.key, self.audience.external_id):
            return f"audience_id must be {self.audience.key!r} or {self.audience.external_id!r}, got {audience_id!r}"
        if not value:
            return f"{self.identifier} is empty"
        if len(value.encode()) > MAX_IDENTIFIER_BYTES:
            return f"{self.identifier} is longer than {MAX_IDENTIFIER_BYTES} bytes"
        if "\n" in value or "\r" in value:
            return f"{self.identifier} contains a line break"
        return self._ts_problem(ts)

    def _ts_problem(self, raw: str) -> str | None:
        if raw in self._ts_verdicts:
            return self._ts_verdicts[raw]
        if len(self._ts_verdicts) > 100_000:
            self._ts_verdicts.clear()
        self._ts_verdicts[raw] = verdict = self._judge_ts(raw)
        return verdict

    def _judge_ts(self, raw: str) -> str | None:
        try:
            number = float(raw) if any(c in raw for c in ".eE") else int(raw)
        except ValueError:
            return f"ts must be epoch seconds, got {raw!r}"
        try:
            checked_ts(number, self.now, self.max_future_skew)
        except ValueError as error:
            return str(error)
        return None
