"""A block of a member file judged at once, on Polars, when it is plain: the dialects' fast path.

A block is plain when it is ASCII text without quotes or carriage returns and every line has the
header's width. There a row is its fields split at commas, exactly as the csv module reads it, so
a dialect's predicate over the table can accept rows in bulk; the rows the predicate doubts are
handed back, with their place in the block, to be judged one by one by the dialect's own rules.
The predicate must accept only what those rules accept; it may doubt more. Anything not plain
goes the csv module's way, which names what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import polars as pl

from audiences.member_files import MAX_LINE_BYTES, MEMBER

_PLAIN = "plain"
_INDEX = "index"


def plain_table(data: bytes, columns: Sequence[str]) -> pl.DataFrame | None:
    """The block's rows as a table of strings (named `columns`, in file order), or None if it is not plain."""
    width = len(columns)
    if not data or not data.isascii() or b'"' in data or b"\r" in data:
        return None
    rows = data.count(b"\n") + (not data.endswith(b"\n"))
    # Every line has exactly width - 1 commas: none has more (a ragged line fails the reading), so
    # none has fewer, and there is no blank line; one field has no commas to tell, so look for one.
    if data.count(b",") != rows * (width - 1) or (width == 1 and (data.startswith(b"\n") or b"\n\n" in data)):
        return None
    try:
        table = pl.read_csv(
            data,
            has_header=False,
            new_columns=list(columns),
            infer_schema=False,
            quote_char=None,
            empty_string_is_null=False,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        return None
    longest = table.select(pl.sum_horizontal(pl.all().str.len_bytes()).max()).item() or 0
    if table.height != rows or longest + width - 1 > MAX_LINE_BYTES:
        return None  # the csv module's reading names what is wrong
    return table


@dataclass(frozen=True)
class Judged:
    accepted: pl.Series  # the values of the rows the predicate accepted, as MEMBER
    doubted: Iterator[tuple]  # (index in the block, the `fields`…) of every other row, in order


def judge(table: pl.DataFrame, plain: pl.Expr, value: str, fields: Sequence[str]) -> Judged:
    """Split a plain table by the predicate: `value` of the rows it accepts, and `fields` of the others."""
    judged = table.with_columns(plain.fill_null(False).alias(_PLAIN))
    accepted = judged.filter(_PLAIN)[value].rename(MEMBER)
    if accepted.len() == table.height:
        return Judged(accepted, iter(()))
    doubted = judged.with_row_index(_INDEX).filter(~pl.col(_PLAIN)).select(_INDEX, *fields)
    return Judged(accepted, doubted.iter_rows())


def no_control_characters(column: str) -> pl.Expr:
    """The value holds no control character (the table is ASCII: C1 controls cannot occur)."""
    return ~pl.col(column).str.contains(r"[\x00-\x1f\x7f]")
