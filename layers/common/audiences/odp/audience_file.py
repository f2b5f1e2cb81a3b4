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
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import BinaryIO

from audiences.domain import Confidence, checked_ts, control_character_problem
from audiences.member_files import FileContext, FileRejected, RowErrors, TextLines, gunzipped

REQUIRED_COLUMNS = ("type", "action", "audience_id", "ts")
MAX_IDENTIFIER_BYTES = 1024


@dataclass
class AudienceFile:
    """The member values of one audience file, validated as they stream past."""

    body: BinaryIO
    compressed_size: int
    context: FileContext
    identifier: str = ""
    rows: int = 0
    errors: RowErrors = field(default_factory=RowErrors)
    # A file repeats a few ts values over and over: each is judged once.
    _ts_verdicts: dict[str, str | None] = field(default_factory=dict)

    def members(self) -> Iterator[str]:
        """Every valid row's identifier value; errors are collected, not raised."""
        lines = TextLines(gunzipped(self.body, self.compressed_size))
        reader = csv.reader(lines, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise FileRejected("the file has no header row: the first line names the columns")
            lines.finished_line()
            columns = self._columns(header)
            width, pick = len(columns), itemgetter(*(columns[name] for name in (*REQUIRED_COLUMNS, self.identifier)))
            audience = self.context.audience
            accepted_ids = (audience.key, audience.external_id)
            for row in reader:
                lines.finished_line()
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
                    and control_character_problem(value) is None
                    and self._ts_problem(ts) is None
                ):
                    yield value  # the common case, checked as cheaply as it can be
                elif message := self.row_problem(kind, action, audience_id, ts, value):
                    self.errors.add(reader.line_num, message)
                else:
                    yield value
        except csv.Error as error:
            raise FileRejected(f"line {reader.line_num}: the CSV is malformed: {error}") from error

    def _columns(self, header: list[str]) -> dict[str, int]:
        names = [name.strip() for name in header]
        missing = [name for name in REQUIRED_COLUMNS if name not in names]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        extra = [name for name in names if name not in REQUIRED_COLUMNS]
        allowed = self.context.tenant.high_confidence_identifiers()
        identifiers = [name for name in extra if self.context.tenant.confidence(name) is Confidence.HIGH]
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

    def row_problem(self, kind: str, action: str, audience_id: str, ts: str, value: str) -> str | None:
        """What is wrong with a row, or None."""
        if kind != "passthrough":
            return f"type must be 'passthrough', got {kind!r}"
        if action != "qualify":
            return f"action must be 'qualify' (the file lists members; who is missing is disqualified), got {action!r}"
        audience = self.context.audience
        if audience_id not in (audience.key, audience.external_id):
            return f"audience_id must be {audience.key!r} or {audience.external_id!r}, got {audience_id!r}"
        if not value:
            return f"{self.identifier} is empty"
        if len(value.encode()) > MAX_IDENTIFIER_BYTES:
            return f"{self.identifier} is longer than {MAX_IDENTIFIER_BYTES} bytes"
        if problem := control_character_problem(value):
            return f"{self.identifier} {problem}"
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
            checked_ts(number, self.context.now, self.context.max_future_skew)
        except ValueError as error:
            return str(error)
        return None
