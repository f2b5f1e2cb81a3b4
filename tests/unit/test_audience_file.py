"""Reading ODP audience files: every rule, with the message an uploader sees."""

from __future__ import annotations

import gzip
import io
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audiences.domain import Audience, Confidence, Tenant
from audiences.member_files import MAX_ERRORS, FileContext, FileRejected
from audiences.odp.audience_file import AudienceFile
from tests.integration.imports_helpers import one_huge_line

NOW = 1_748_851_070.0
TENANT = Tenant.of("t", fs_user_id=Confidence.HIGH, email=Confidence.HIGH, vuid=Confidence.LOW)
AUDIENCE = Audience("vip_users", "vip")
CONTEXT = FileContext(TENANT, AUDIENCE, NOW, 300)


def read(text: str | bytes, compress: bool = True) -> AudienceFile:
    raw = text.encode() if isinstance(text, str) else text
    data = gzip.compress(raw, mtime=0) if compress else raw
    audience_file = AudienceFile(io.BytesIO(data), len(data), CONTEXT)
    audience_file.values = list(audience_file.members())  # type: ignore[attr-defined]
    return audience_file


def rejected(text: str | bytes, compress: bool = True) -> str:
    with pytest.raises(FileRejected) as raised:
        read(text, compress)
    return str(raised.value)


def test_any_column_order_bom_crlf_quotes_and_duplicates():
    text = '\ufeffts,fs_user_id,type,audience_id,action\r\n1748851070,"u,1",passthrough,vip,qualify\r\n'
    text += "1748851000,u2,passthrough,vip_users,qualify\r\n1748851070.5,u2,passthrough,vip,qualify\r\n\r\n"
    audience_file = read(text)
    assert audience_file.values == ["u,1", "u2", "u2"]  # duplicates collapse later, in the diff
    assert (audience_file.identifier, audience_file.rows, audience_file.errors.count) == ("fs_user_id", 3, 0)


def test_a_header_only_file_is_valid_and_empty():
    audience_file = read("type,action,audience_id,ts,email\n")
    assert (audience_file.values, audience_file.rows) == ([], 0)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("type,action,audience_id,fs_user_id", "missing column(s) ts"),
        ("type,action,audience_id,ts", "exactly one identifier column is needed (one of: email, fs_user_id), got 0"),
        ("type,action,audience_id,ts,fs_user_id,email", "got 2"),
        ("type,action,audience_id,ts,vuid", "unknown column(s) vuid"),
        ("type,action,audience_id,ts,fs_user_id,colour", "unknown column(s) colour"),
        ("type,type,action,audience_id,ts,fs_user_id", "repeated column(s) type"),
    ],
)
def test_header_rules(header, message):
    assert message in rejected(header + "\n")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("custom,qualify,vip,1748851070,u1", "type must be 'passthrough', got 'custom'"),
        ("passthrough,disqualify,vip,1748851070,u1", "action must be 'qualify'"),
        ("passthrough,qualify,other,1748851070,u1", "audience_id must be 'vip_users' or 'vip', got 'other'"),
        ("passthrough,qualify,vip,1748851070,", "fs_user_id is empty"),
        ("passthrough,qualify,vip,soon,u1", "ts must be epoch seconds, got 'soon'"),
        ("passthrough,qualify,vip,1748851070000,u1", "looks like epoch milliseconds"),
        ("passthrough,qualify,vip,1748860000,u1", "s in the future"),
        ("passthrough,qualify,vip,-5,u1", "must not be negative"),
        ("passthrough,qualify,vip", "expected 5 fields, got 3"),
        ("passthrough,qualify,vip,1748851070,a\x00b", "fs_user_id contains the control character U+0000"),
        ("passthrough,qualify,vip,1748851070," + "x" * 1025, "longer than 1024 bytes"),
    ],
)
def test_row_rules_name_the_line(row, message):
    audience_file = read("type,action,audience_id,ts,fs_user_id\npassthrough,qualify,vip,1748851070,ok\n" + row + "\n")
    assert audience_file.errors.count == 1
    [(line, text)] = audience_file.errors.first
    assert line == 3 or "\n" in row
    assert message in text


def test_the_first_errors_are_kept_and_all_are_counted():
    rows = "".join(f"passthrough,join,vip,1748851070,u{n}\n" for n in range(50))
    audience_file = read("type,action,audience_id,ts,fs_user_id\n" + rows)
    assert audience_file.errors.count == 50
    assert [line for line, _ in audience_file.errors.first] == list(range(2, 2 + MAX_ERRORS))


@pytest.mark.parametrize(
    ("data", "compress", "message"),
    [
        (b"", False, "the file is empty (0 bytes)"),
        (b"type,action\n", False, "not gzip-compressed"),
        (b"", True, "has no header row"),
        (b"\xff\xfe\x00t", True, "not UTF-8"),
        (b'type,action,audience_id,ts,fs_user_id\n"unclosed', True, "the CSV is malformed"),
        (
            b'type,action,audience_id,ts,fs_user_id\npassthrough,qualify,vip,1748851070,"a\nb"\n',
            True,
            "line 2: a quoted value runs on over the next line; values hold no line breaks",
        ),
        (b"type,action,audience_id,ts,fs_user_id\n" + b"x" * 9000 + b"\n", True, "line 2 is longer than 8192 bytes"),
    ],
    ids=["zero-bytes", "not-gzip", "no-header", "not-utf8", "malformed-csv", "multi-line-value", "long-line"],
)
def test_unreadable_files_are_rejected_whole(data, compress, message):
    assert message in rejected(data, compress)


def test_a_truncated_gzip_is_rejected():
    data = gzip.compress(
        b"type,action,audience_id,ts,fs_user_id\n" + b"passthrough,qualify,vip,1748851070,u\n" * 1000, mtime=0
    )
    with pytest.raises(FileRejected, match="truncated or corrupt"):
        list(AudienceFile(io.BytesIO(data[: len(data) // 2]), len(data), CONTEXT).members())


def test_a_corrupted_crc_says_the_data_is_corrupt():
    data = bytearray(gzip.compress(b"type,action,audience_id,ts,fs_user_id\n", mtime=0))
    data[-8] ^= 0xFF  # the CRC32 in gzip's trailer
    with pytest.raises(FileRejected, match=r"the gzip data is corrupt \(CRC check failed"):
        list(AudienceFile(io.BytesIO(bytes(data)), len(data), CONTEXT).members())


def test_a_decompression_bomb_is_stopped_at_the_limit():
    bomb = gzip.compress(b"type,action,audience_id,ts,fs_user_id\n" + (b"0" * 8000 + b"\n") * 10_000, mtime=0)
    assert len(bomb) < 100 * 1024
    with pytest.raises(FileRejected, match="expands to more than"):
        list(AudienceFile(io.BytesIO(bomb), len(bomb), CONTEXT).members())


def test_a_500_mb_line_is_refused_holding_no_more_than_a_chunk():
    """It once took the process from 437 MB to 1,397 MB before failing; now reading stops at the cap."""
    data = one_huge_line(500 * 1024 * 1024)
    assert len(data) < 6 * 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(FileRejected, match="line 2 is longer than 8192 bytes"):
            list(AudienceFile(io.BytesIO(data), len(data), CONTEXT).members())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"reading held {peak / 2**20:.1f} MiB"


def test_memory_is_bounded_by_a_chunk_and_a_line_for_any_number_of_rows():
    rows = b"".join(b"passthrough,qualify,vip,1748851070,user-%d\n" % n for n in range(200_000))
    data = gzip.compress(b"type,action,audience_id,ts,fs_user_id\n" + rows, mtime=0)
    tracemalloc.start()
    try:
        count = sum(1 for _ in AudienceFile(io.BytesIO(data), len(data), CONTEXT).members())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert peak < 8 * 1024 * 1024, f"reading held {peak / 2**20:.1f} MiB for an 8 MB file"


csv_cells = st.text(alphabet=st.sampled_from('a,"\r\n\t\x00é\ud7ff\ufeff0123456789;'), max_size=30)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.lists(csv_cells, max_size=8).map(
            lambda cells: ("type,action,audience_id,ts,fs_user_id\n" + "\n".join(cells)).encode("utf-8", "replace")
        ),
    ),
    compress=st.booleans(),
    cut=st.integers(min_value=0, max_value=400),
)
def test_any_bytes_are_read_or_rejected_whole_never_crash(body, compress, cut):
    data = gzip.compress(body, mtime=0) if compress else body
    data = data[: max(1, cut)] if cut < len(data) else data
    audience_file = AudienceFile(io.BytesIO(data), len(data), CONTEXT)
    try:
        values = list(audience_file.members())
    except FileRejected as rejected:
        assert str(rejected)
        return
    assert all(isinstance(v, str) and v for v in values)
    assert audience_file.rows == len(values) + audience_file.errors.count
