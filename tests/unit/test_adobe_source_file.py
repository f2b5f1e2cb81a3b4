"""Adobe's source files: typed CSV, any column order, optional gzip, BOM and CRLF, errors by line."""

from __future__ import annotations

import gzip
import io

import pytest

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


def read(data: bytes, fields=FIELDS) -> SourceFile:
    definition = Definition("prod", fields, {"path": "a.csv", "type": "file"}, False, [], [], "people", "X", "N", None)
    audience = Audience("aud", "aud", dialect_attributes=definition.attributes())
    context = FileContext(Tenant.of("demo", email=Confidence.HIGH), audience, 1_800_000_000, 300)
    source = SourceFile(io.BytesIO(data), len(data), context)
    source.values = list(source.members())
    return source


def test_columns_in_any_order_typed_values_and_empty_optionals():
    text = (
        "vip,seen,since,visits,score,ppid\n"
        "true,2025-05-23T20:19:00+00:00,2025-05-13,3,12.5,a@example.com\n"
        ",,,,,b@example.com\n"
    )
    source = read(text.encode())
    assert source.values == ["a@example.com", "b@example.com"]
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
        (2, "ppid (the identity field) is empty"),
        (3, "score must be a number, got 'NaN'"),
        (4, "visits must be a whole number (32-bit), got '99999999999'"),
        (5, "since must be a date, YYYY-MM-DD, got '2025-13-01'"),
        (6, "seen must be an ISO 8601 date-time, such as 2025-05-23T20:19:00+00:00, got 'yesterday'"),
        (7, "vip must be true or false, got 'maybe'"),
        (8, "expected 6 values, got 2"),
    ]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("ppid,score,visits,since,seen", "missing vip"),
        ("ppid,score,visits,since,seen,vip,extra", "not fields of the audience: extra"),
        ("ppid,ppid,score,visits,since,seen,vip", "repeated ppid"),
    ],
)
def test_a_header_that_is_not_the_audiences_fields_rejects_the_file(header, problem):
    with pytest.raises(FileRejected) as rejected:
        read(f"{header}\n".encode())
    assert problem in str(rejected.value) and str(rejected.value).startswith("line 1:")


def test_an_empty_file_and_bad_utf8_are_rejected_saying_why():
    with pytest.raises(FileRejected, match="empty"):
        read(b"")
    with pytest.raises(FileRejected, match="line 2 is not UTF-8"):
        read(b"ppid,score,visits,since,seen,vip\n\xff,1,1,,,\n")
