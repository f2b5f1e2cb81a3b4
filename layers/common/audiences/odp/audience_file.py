"""ODP's audience file: the gzip CSV of an audience's complete current member list.

    type,action,audience_id,ts,fs_user_id
    passthrough,qualify,vip_users,1748851070,user-123

Columns in any order: type, action, audience_id, ts and exactly one identifier column that
is high-confidence for the tenant. A file is read as a stream; its rows are checked as they
pass, the first errors are kept with their line numbers, and the caller decides nothing is
applied unless the whole file was valid. An error names the line, the column and what is wrong,
never a cell's value: errors are stored on the import record, where no erasure reaches.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from operator import itemgetter
from typing import BinaryIO

import polars as pl

from audiences.domain import (
    MAX_IDENTIFIER_BYTES,
    MILLISECONDS_FROM,
    Confidence,
    checked_ts,
    control_character_problem,
    identifier_value_problem,
)
from audiences.member_files import (
    MEMBER,
    FileContext,
    FileRejected,
    LineBlock,
    RowErrors,
    TextLines,
    gunzipped,
    header_and_rest,
    line_blocks,
    read_ahead,
)
from audiences.plain_csv import judge, no_control_characters, plain_table

REQUIRED_COLUMNS = ("type", "action", "audience_id", "ts")


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

    def blocks(self) -> Iterator[pl.Series]:
        """Every valid row's identifier value, a block of lines at a time; errors are collected, not raised."""
        with closing(read_ahead(line_blocks(gunzipped(self.body, self.compressed_size)))) as blocks:
            header, rest = header_and_rest(blocks)
            self._read_header(header)
            for block in rest:
                values = self._plain_block(block)
                yield values if values is not None else pl.Series(MEMBER, list(self._rows(block)), pl.String)

    def members(self) -> Iterator[str]:
        for block in self.blocks():
            yield from block

    def _read_header(self, block: LineBlock) -> None:
        lines = TextLines([block])
        reader = csv.reader(lines, strict=True)
        try:
            header = next(reader, None)
        except csv.Error as error:
            raise FileRejected(f"line 1: the CSV is malformed: {error}") from error
        if header is None:
            raise FileRejected("the file has no header row: the first line names the columns")
        lines.finished_line()
        self._columns_at = self._columns(header)

    def _plain_block(self, block: LineBlock) -> pl.Series | None:
        """The block's values judged at once if it is plain (audiences.plain_csv), else None; the rows
        the predicate doubts are judged again one by one (`row_problem`), so errors, their line
        numbers and what is accepted are the same as the csv module's way."""
        if not block.data:
            return pl.Series(MEMBER, [], pl.String)
        table = plain_table(block.data, sorted(self._columns_at, key=self._columns_at.get))
        if table is None:
            return None
        self.rows += table.height
        audience = self.context.audience
        value = pl.col(self.identifier)
        seconds = pl.col("ts").str.to_integer(strict=False)  # digits only, as Python's int() of a plain ts
        plain = (
            (pl.col("type") == "passthrough")
            & (pl.col("action") == "qualify")
            & pl.col("audience_id").is_in([audience.key, audience.external_id])
            & (value.str.len_bytes() > 0)
            & (value.str.len_bytes() <= MAX_IDENTIFIER_BYTES)
            & no_control_characters(self.identifier)
            & pl.col("ts").str.contains(r"^[0-9]+$")
            & (seconds < MILLISECONDS_FROM)
            & (seconds <= self.context.now + self.context.max_future_skew)
        )
        judged = judge(table, plain, self.identifier, (*REQUIRED_COLUMNS, self.identifier))
        also = []
        for index, kind, action, audience_id, ts, value_ in judged.doubted:
            if message := self.row_problem(kind, action, audience_id, ts, value_):
                self.errors.add(block.first_line + index, message)
            else:
                also.append(value_)
        return pl.concat([judged.accepted, pl.Series(MEMBER, also, pl.String)]) if also else judged.accepted

    def _rows(self, block: LineBlock) -> Iterator[str]:
        """The block's values judged row by row, as the csv module reads them."""
        lines = TextLines([block])
        reader = csv.reader(lines, strict=True)
        width = len(self._columns_at)
        pick = itemgetter(*(self._columns_at[name] for name in (*REQUIRED_COLUMNS, self.identifier)))
        before = block.first_line - 1
        audience = self.context.audience
        accepted_ids = (audience.key, audience.external_id)
        try:
            for row in reader:
                lines.finished_line()
                if not row:
                    continue  # a trailing blank line
                self.rows += 1
                if len(row) != width:
                    self.errors.add(before + reader.line_num, f"expected {width} fields, got {len(row)}")
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
                    self.errors.add(before + reader.line_num, message)
                else:
                    yield value
        except csv.Error as error:
            raise FileRejected(f"line {before + reader.line_num}: the CSV is malformed: {error}") from error

    def _columns(self, header: list[str]) -> dict[str, int]:
        names = [name.strip() for name in header]
        if not set(REQUIRED_COLUMNS) & set(names):  # a member row, most likely: its values are not quoted
            raise FileRejected(
                "line 1 must be the header (type, action, audience_id, ts and one identifier column), and it names "
                "none of them: is the header missing?"
            )
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
            return "column `type` must be 'passthrough'"
        if action != "qualify":
            return "column `action` must be 'qualify' (the file lists members; who is missing is disqualified)"
        audience = self.context.audience
        if audience_id not in (audience.key, audience.external_id):
            return f"column `audience_id` must be {audience.key!r} or {audience.external_id!r}, the file's audience"
        if problem := identifier_value_problem(value):
            return f"column `{self.identifier}` {problem}"
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
            return "column `ts` must be epoch seconds"
        try:
            checked_ts(number, self.context.now, self.context.max_future_skew)
        except ValueError as error:
            return f"column `ts` {str(error).removeprefix('ts ')}"
        return None
