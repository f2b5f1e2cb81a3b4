"""Adobe's source files: typed CSV, any column order, optional gzip, BOM and CRLF, errors by line."""

from __future__ import annotations

import gzip
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audiences.adobe.audiences import Definition
from audiences.adobe.source_file import SourceFile
from audiences.domain import Audience, Confidence, Tenant
from audiences.member_files import FileContext, FileRejected

FIELDS = [
    {"name": "ppid", "type": "string", "identityNs": "Email"},
    {"name": "score", "type": "number"},
    {"name": "visits", "type": "integer"},
    {"name": "since", "type": "date"},
    {"name": "seen", "type": "datetime"},
    {"name": "vip", "type": "boolean"},
]


def read(data: bytes, fields=FIELDS, at_once: bool = True) -> SourceFile:
    definition = Definition("prod", fields, {"path": "a.csv", "type": "file"}, False, [], [], "people", "X", "N", None)
    audience = Audience("aud", "aud", dialect_attributes=definition.attributes())
    context = FileContext(Tenant.of("demo", email=Confidence.HIGH), audience, 1_800_000_000, 300)
    source = SourceFile(io.BytesIO(data), len(data), context)
    if not at_once:
        source._plain_block = lambda block: None  # every block judged by the csv module
    source.values = list(source.members())
    return source


def test_columns_in_any_order_typed_values_and_empty_optionals():
    text = (
        "vip,seen,since,visits,score,ppid\n"
        "true,2025-05-23T20:19:00+00:00,2025-05-13,3,12.5,a@example.com\n"
        ",,,,,b@example.com\n"
    )
    source = read(text.encode())
    assert sorted(source.values) == ["a@example.com", "b@example.com"]
    assert (source.identifier, source.rows, source.errors.count) == ("email", 2, 0)


@pytest.mark.parametrize("wrap", [lambda b: b, gzip.compress], ids=["plain", "gzip"])
def test_bom_crlf_and_gzip_told_by_content(wrap):
    text = "\ufeffppid,score,visits,since,seen,vip\r\nx@example.com,1,2,2025-01-01,2025-01-01T00:00:00,false\r\n"
    assert read(wrap(text.encode())).values == ["x@example.com"]


def test_each_bad_row_is_named_by_line_and_reason():
    text = (
        "ppid,score,visits,since,seen,vip\n"
        ",1,1,,,\n"
        "a,NaN,1,,,\n"
        "b,1,99999999999,,,\n"
        "c,1,1,2025-13-01,,\n"
        "d,1,1,,yesterday,\n"
        "e,1,1,,,maybe\n"
        "f,1\n"
        "g,1,1,,,TRUE\n"
    )
    source = read(text.encode())
    assert source.values == ["g"]
    assert source.errors.first == [
        (2, "column `ppid` (the identity field) is empty"),
        (3, "column `score` must be a number"),
        (4, "column `visits` must be a whole number (32-bit)"),
        (5, "column `since` must be a date, YYYY-MM-DD"),
        (6, "column `seen` must be an ISO 8601 date-time, such as 2025-05-23T20:19:00+00:00"),
        (7, "column `vip` must be true or false"),
        (8, "expected 6 values, got 2"),
    ]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("ppid,score,visits,since,seen", "missing vip"),
        ("ppid,score,visits,since,seen,vip,extra", "not fields of the audience: extra"),
        ("ppid,ppid,score,visits,since,seen,vip", "repeated ppid"),
        ("ann@x.com,1,1,,,true", "names none of them: is the header missing?"),
    ],
)
def test_a_header_that_is_not_the_audiences_fields_rejects_the_file(header, problem):
    with pytest.raises(FileRejected) as rejected:
        read(f"{header}\n".encode())
    said = str(rejected.value)
    assert problem in said and said.startswith("line 1") and "ann@x.com" not in said


def test_an_empty_file_and_bad_utf8_are_rejected_saying_why():
    with pytest.raises(FileRejected, match="empty"):
        read(b"")
    with pytest.raises(FileRejected, match="line 2 is not UTF-8"):
        read(b"ppid,score,visits,since,seen,vip\n\xff,1,1,,,\n")


# Per type, valid values, and the edges the fast path must judge as the row-by-row rules do.
VALID = {
    "string": ["a@example.com", "b"],
    "number": ["", "12.5", "-3", "007", "-0"],
    "long": ["", "1", "-1", "9" * 18, "-" + "9" * 18],
    "integer": ["", "7", "999999999", "2147483647", "-2147483648"],
    "boolean": ["", "true", "FALSE", "True"],
    "date": ["", "2025-05-13"],
    "datetime": ["", "2025-05-23T20:19:00"],
}
EDGES = {
    "string": st.one_of(
        st.sampled_from(["", "x" * 1100, "tab\there"]),
        st.text(st.characters(codec="ascii", exclude_characters=',"\r\n'), max_size=12),
    ),
    "number": st.sampled_from(["1e5", "NaN", "inf", " 4", "1.", ".5", "+1", "x"]),
    "long": st.sampled_from(["9" * 19, "-" + "9" * 19, "+1", " 1", "1.0", "x"]),
    "integer": st.sampled_from(["2147483648", "-2147483649", "9999999999", "+7"]),
    "boolean": st.sampled_from(["yes", "0", "tru"]),
    "date": st.sampled_from(["2025-02-30", "0000-01-01", "20250513"]),
    "datetime": st.sampled_from(["yesterday"]),
}
TYPED = [
    {**field, "type": kind}
    for field, kind in zip(FIELDS, ["string", "number", "long", "integer", "boolean", "number"], strict=True)
]


@st.composite
def files(draw):
    """A header in any order and rows of the audience's types, each valid but for at most one edge
    (so a row the fast path should doubt is otherwise one it accepts), some of another width."""
    fields = draw(st.sampled_from([FIELDS, TYPED]))
    header = draw(st.permutations([field["name"] for field in fields]))
    kinds = [{field["name"]: field["type"] for field in fields}[name] for name in header]
    lines = []
    for _ in range(draw(st.integers(0, 30))):
        values = [draw(st.sampled_from(VALID[kind])) for kind in kinds]
        if draw(st.booleans()):
            column = draw(st.integers(0, len(kinds) - 1))
            values[column] = draw(EDGES[kinds[column]])
        if draw(st.integers(0, 20)) == 0:
            values = values[: draw(st.integers(1, len(values) - 1))] or [*values, "extra"]
        lines.append(",".join(values) + "\n")
    return fields, ",".join(header) + "\n" + "".join(lines)


@settings(max_examples=300, deadline=None)
@given(files())
def test_a_plain_block_is_judged_at_once_exactly_as_row_by_row(file):
    """What the fast path accepts, the errors, their lines and the row count equal the csv module's reading."""
    fields, text = file
    at_once, row_by_row = read(text.encode(), fields), read(text.encode(), fields, at_once=False)
    assert sorted(at_once.values) == sorted(row_by_row.values)
    assert (at_once.errors.first, at_once.errors.count) == (row_by_row.errors.first, row_by_row.errors.count)
    assert at_once.rows == row_by_row.rows


def test_a_one_field_audience_skips_blank_lines_in_a_plain_block_as_row_by_row():
    fields = [FIELDS[0]]
    text = "ppid\na@example.com\n\nb@example.com\n"
    at_once, row_by_row = read(text.encode(), fields), read(text.encode(), fields, at_once=False)
    assert at_once.values == row_by_row.values == ["a@example.com", "b@example.com"]
    assert at_once.rows == row_by_row.rows == 2 and at_once.errors.count == 0


def test_many_blocks_name_lines_across_blocks_and_read_a_quoted_block_row_by_row(monkeypatch):
    monkeypatch.setattr("audiences.member_files.BLOCK_BYTES", 256)
    rows = [f"u{n}@example.com,{n}.5,{n},,,true" for n in range(200)]
    rows[150] = "bad@example.com,soon,1,,,"
    rows[60] = '"quoted@example.com",1,1,,,'
    source = read(("ppid,score,visits,since,seen,vip\n" + "\n".join(rows) + "\n").encode())
    expected = {f"u{n}@example.com" for n in range(200)} - {"u150@example.com", "u60@example.com"}
    assert sorted(source.values) == sorted(expected | {"quoted@example.com"})
    assert source.errors.first == [(152, "column `score` must be a number")] and source.rows == 200
