"""Adobe's source files: a CSV whose header names every field of the audience once, in any order.

    email,tier,score
    u1@example.com,gold,12.5

UTF-8 (a byte order mark is accepted), LF or CRLF line ends, gzip-compressed or not (told by
the content). The identity field (the one with `identityNs`) is required on every row; other
fields may be empty, and a non-empty value must parse as its field's `type`. Rows are checked
as they stream past; errors are collected with their line numbers, and nothing is applied
unless every file of the run is valid. An error names the line, the column and what is wrong,
never a cell's value: errors are stored on the run's record, where no erasure reaches.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import BinaryIO

import polars as pl

from audiences.adobe.audiences import Definition
from audiences.domain import MAX_IDENTIFIER_BYTES, identifier_value_problem
from audiences.member_files import (
    MEMBER,
    FileContext,
    FileRejected,
    LineBlock,
    RowErrors,
    TextLines,
    decompressed,
    header_and_rest,
    line_blocks,
    read_ahead,
)
from audiences.plain_csv import judge, no_control_characters, plain_table

MAX_ERRORS = 100  # per run, as the contract's run details list them
_LONG = 2**63
_INTEGER = 2**31


def _number(value: str) -> None:
    if value.strip().lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        raise ValueError
    float(value)


def _whole(bound: int) -> Callable[[str], None]:
    def check(value: str) -> None:
        if not -bound <= int(value) < bound:
            raise ValueError

    return check


def _boolean(value: str) -> None:
    if value.lower() not in ("true", "false"):
        raise ValueError


PARSERS: dict[str, tuple[Callable[[str], object], str]] = {
    "number": (_number, "a number"),
    "long": (_whole(_LONG), "a whole number (64-bit)"),
    "integer": (_whole(_INTEGER), "a whole number (32-bit)"),
    "date": (date.fromisoformat, "a date, YYYY-MM-DD"),
    "datetime": (datetime.fromisoformat, "an ISO 8601 date-time, such as 2025-05-23T20:19:00+00:00"),
    "boolean": (_boolean, "true or false"),
}
# A plain block's values of a type, judged at once: only what PARSERS accepts (far less than all of it:
# the rest is judged by PARSERS). 18 and 9 digits stay within 64 and 32 bits.
_PLAIN_TYPED: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "number": lambda value: value.str.contains(r"^-?[0-9]+(\.[0-9]+)?$"),
    "long": lambda value: value.str.contains(r"^-?[0-9]{1,18}$"),
    "integer": lambda value: value.str.contains(r"^-?[0-9]{1,9}$"),
    "boolean": lambda value: value.str.to_lowercase().is_in(["true", "false"]),
}


@dataclass
class SourceFile:
    """The member values of one source file, validated as they stream past."""

    body: BinaryIO
    size: int
    context: FileContext
    identifier: str = ""
    rows: int = 0
    errors: RowErrors = field(default_factory=lambda: RowErrors(limit=MAX_ERRORS))

    def __post_init__(self) -> None:
        definition = Definition.of(self.context.audience)
        self.fields = definition.fields
        self.identity = definition.identity_field["name"]
        self.identifier = definition.identity_field["identityNs"].lower()

    def blocks(self) -> Iterator[pl.Series]:
        """Every valid row's identity value, a block of lines at a time; errors are collected, not raised."""
        with closing(read_ahead(line_blocks(decompressed(self.body, self.size)))) as blocks:
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
        reader = csv.reader((line.removesuffix("\r") for line in lines), strict=True)
        try:
            header = next(reader, None)
        except csv.Error as error:
            raise FileRejected(f"line 1: the CSV is malformed: {error}") from error
        if header is None:
            raise FileRejected("the file has no header row: the first line names the audience's fields")
        lines.finished_line()
        self._columns_at = self._columns(header)
        self._checks = [
            (self._columns_at[f["name"]], f["name"], PARSERS[f["type"]]) for f in self.fields if f["type"] in PARSERS
        ]

    def _plain_block(self, block: LineBlock) -> pl.Series | None:
        """The block's values judged at once if it is plain (audiences.plain_csv), else None: the identity
        and the number, whole-number and boolean fields in bulk, the rows that predicate doubts (a date,
        a date-time, a number in exponent form…) again one by one by the rules of the csv module's way."""
        if not block.data:
            return pl.Series(MEMBER, [], pl.String)
        names = sorted(self._columns_at, key=self._columns_at.get)
        table = plain_table(block.data, names)
        if table is None:
            return None
        self.rows += table.height
        value = pl.col(self.identity)
        plain = (value.str.len_bytes() > 0) & (value.str.len_bytes() <= MAX_IDENTIFIER_BYTES)
        plain &= no_control_characters(self.identity)
        for field_ in self.fields:
            if field_["type"] in PARSERS:  # empty, or a value the bulk check accepts (none for dates)
                typed, bulk = pl.col(field_["name"]), _PLAIN_TYPED.get(field_["type"])
                plain &= (typed == "") | (bulk(typed) if bulk else pl.lit(False))
        judged = judge(table, plain, self.identity, names)
        also = []
        for index, *row in judged.doubted:
            if problem := self._row_problem(row, self._columns_at[self.identity], self._checks):
                self.errors.add(block.first_line + index, problem)
            else:
                also.append(row[self._columns_at[self.identity]])
        return pl.concat([judged.accepted, pl.Series(MEMBER, also, pl.String)]) if also else judged.accepted

    def _rows(self, block: LineBlock) -> Iterator[str]:
        """The block's values judged row by row, as the csv module reads them."""
        lines = TextLines([block])
        reader = csv.reader((line.removesuffix("\r") for line in lines), strict=True)
        width, identity, before = len(self._columns_at), self._columns_at[self.identity], block.first_line - 1
        try:
            for row in reader:
                lines.finished_line()
                if not row:
                    continue  # a blank line
                self.rows += 1
                if len(row) != width:
                    self.errors.add(before + reader.line_num, f"expected {width} values, got {len(row)}")
                elif problem := self._row_problem(row, identity, self._checks):
                    self.errors.add(before + reader.line_num, problem)
                else:
                    yield row[identity]
        except csv.Error as error:
            raise FileRejected(f"line {before + reader.line_num}: the CSV is malformed: {error}") from error

    def _columns(self, header: list[str]) -> dict[str, int]:
        names = [name.strip() for name in header]
        expected = [f["name"] for f in self.fields]
        if not set(expected) & set(names):  # a member row, most likely: its values are not quoted
            raise FileRejected(
                f"line 1 must be the header naming the audience's fields ({', '.join(expected)}), and it names "
                "none of them: is the header missing?"
            )
        missing = [name for name in expected if name not in names]
        repeated = sorted({name for name in names if names.count(name) > 1})
        unknown = [name for name in names if name not in expected]
        problems = [
            f"{label} {', '.join(found)}"
            for label, found in (("missing", missing), ("repeated", repeated), ("not fields of the audience:", unknown))
            if found
        ]
        if problems:
            raise FileRejected(
                f"line 1: the header must name each of the audience's fields once ({', '.join(expected)}): "
                + "; ".join(problems)
            )
        return {name: names.index(name) for name in expected}

    def _row_problem(self, row: list[str], identity: int, checks) -> str | None:
        value = row[identity]
        if not value:
            return f"column `{self.identity}` (the identity field) is empty"
        if problem := identifier_value_problem(value):
            return f"column `{self.identity}` {problem}"
        for index, name, (parse, expected) in checks:
            if row[index]:
                try:
                    parse(row[index])
                except ValueError:
                    return f"column `{name}` must be {expected}"
        return None
