"""Adobe's source files: a CSV whose header names every field of the audience once, in any order.

    email,tier,score
    u1@example.com,gold,12.5

UTF-8 (a byte order mark is accepted), LF or CRLF line ends, gzip-compressed or not (told by
the content). The identity field (the one with `identityNs`) is required on every row; other
fields may be empty, and a non-empty value must parse as its field's `type`. Rows are checked
as they stream past; errors are collected with their line numbers, and nothing is applied
unless every file of the run is valid.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from typing import BinaryIO

import polars as pl

from audiences.adobe.audiences import Definition
from audiences.domain import identifier_value_problem
from audiences.member_files import MEMBER, FileContext, FileRejected, RowErrors, TextLines, decompressed

MAX_ERRORS = 100  # per run, as the contract's run details list them
BLOCK_ROWS = 100_000
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
        members = self.members()
        while block := list(islice(members, BLOCK_ROWS)):
            yield pl.Series(MEMBER, block, pl.String)

    def members(self) -> Iterator[str]:
        lines = TextLines.of(decompressed(self.body, self.size))
        reader = csv.reader((line.removesuffix("\r") for line in lines), strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise FileRejected("the file has no header row: the first line names the audience's fields")
            lines.finished_line()
            columns = self._columns(header)
            identity = columns[self.identity]
            checks = [
                (index, name, PARSERS[kind])
                for name, (index, kind) in ((f["name"], (columns[f["name"]], f["type"])) for f in self.fields)
                if kind in PARSERS
            ]
            for row in reader:
                lines.finished_line()
                if not row:
                    continue  # a blank line
                self.rows += 1
                if len(row) != len(columns):
                    self.errors.add(reader.line_num, f"expected {len(columns)} values, got {len(row)}")
                    continue
                if problem := self._row_problem(row, identity, checks):
                    self.errors.add(reader.line_num, problem)
                else:
                    yield row[identity]
        except csv.Error as error:
            raise FileRejected(f"line {reader.line_num}: the CSV is malformed: {error}") from error

    def _columns(self, header: list[str]) -> dict[str, int]:
        names = [name.strip() for name in header]
        expected = [f["name"] for f in self.fields]
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
            return f"{self.identity} (the identity field) is empty"
        if problem := identifier_value_problem(value):
            return f"{self.identity} {problem}"
        for index, name, (parse, expected) in checks:
            if row[index]:
                try:
                    parse(row[index])
                except ValueError:
                    return f"{name} must be {expected}, got {row[index][:64]!r}"
        return None
