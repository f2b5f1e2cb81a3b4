"""Reading ODP audience files: every rule, with the message an uploader sees."""

from __future__ import annotations

import gzip
import io
import threading
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audiences.domain import Audience, Confidence, Tenant
from audiences.member_files import BLOCK_BYTES, MAX_ERRORS, FileContext, FileRejected, LineBlock, read_ahead
from audiences.odp.audience_file import AudienceFile
from tests.imports_helpers import one_huge_line

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
        ("passthrough,qualify,vip,1748851070,ann@x.com", "names none of them: is the header missing?"),
    ],
)
def test_header_rules(header, message):
    said = rejected(header + "\n")
    assert message in said and "ann@x.com" not in said  # a forgotten header's member row is not quoted


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("custom,qualify,vip,1748851070,u1", "column `type` must be 'passthrough'"),
        ("passthrough,disqualify,vip,1748851070,u1", "column `action` must be 'qualify'"),
        ("passthrough,qualify,other,1748851070,u1", "column `audience_id` must be 'vip_users' or 'vip'"),
        ("passthrough,qualify,vip,1748851070,", "column `fs_user_id` is empty"),
        ("passthrough,qualify,vip,soon,u1", "column `ts` must be epoch seconds"),
        ("passthrough,qualify,vip,1748851070000,u1", "column `ts` looks like epoch milliseconds"),
        ("passthrough,qualify,vip,1748860000,u1", "column `ts` is more than 300 s in the future"),
        ("passthrough,qualify,vip,-5,u1", "column `ts` must not be negative"),
        ("passthrough,qualify,vip", "expected 5 fields, got 3"),
        ("passthrough,qualify,vip,1748851070,a\x00b", "column `fs_user_id` contains the control character U+0000"),
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


def test_a_500_mb_line_is_refused_holding_no_more_than_a_block():
    """It once took the process from 437 MB to 1,397 MB before failing; now reading stops at the cap,
    holding one block of lines (and its copies while it is cut at the last line break)."""
    data = one_huge_line(500 * 1024 * 1024)
    assert len(data) < 6 * 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(FileRejected, match="line 2 is longer than 8192 bytes"):
            list(AudienceFile(io.BytesIO(data), len(data), CONTEXT).members())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * BLOCK_BYTES, f"reading held {peak / 2**20:.1f} MiB"


def test_memory_is_bounded_by_a_block_for_any_number_of_rows(monkeypatch):
    """Python's share of it (the engine's columns are outside tracemalloc's sight, bounded by a block too)."""
    monkeypatch.setattr("audiences.member_files.BLOCK_BYTES", 2 * 1024 * 1024)
    peaks = {}
    for count in (200_000, 800_000):  # four blocks, and sixteen
        rows = b"".join(b"passthrough,qualify,vip,1748851070,user-%d\n" % n for n in range(count))
        data = gzip.compress(b"type,action,audience_id,ts,fs_user_id\n" + rows, mtime=0, compresslevel=1)
        del rows
        tracemalloc.start()
        try:
            assert sum(len(block) for block in AudienceFile(io.BytesIO(data), len(data), CONTEXT).blocks()) == count
            _, peaks[count] = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # a block judged, the next read ahead, one more on its way, and their copies while they are cut
    assert peaks[800_000] < 10 * 2 * 1024 * 1024, f"reading held {peaks[800_000] / 2**20:.1f} MiB"
    assert peaks[800_000] < 1.5 * peaks[200_000], peaks


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


FIELD = st.one_of(
    st.sampled_from(["passthrough", "qualify", "vip", "vip_users", "1748851070", "0012", "", "x" * 1100]),
    st.sampled_from(["fullstack", "disqualify", "other", "1748851070000", "4102444800", "-5", "1.5", "1e3", "nan"]),
    st.text(st.characters(codec="ascii", exclude_characters=',"\r\n'), max_size=12),
)
ROW = st.one_of(
    st.tuples(FIELD, FIELD, FIELD, FIELD, FIELD).map(list),
    st.lists(FIELD, min_size=1, max_size=7),  # of another width
    st.just(["passthrough", "qualify", "vip", "1748851070"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ROW, max_size=40), st.permutations(["type", "action", "audience_id", "ts", "fs_user_id"]))
def test_a_plain_block_is_judged_at_once_exactly_as_row_by_row(rows, header):
    """What the engine accepts, the errors, their lines and the row count equal the csv module's reading."""
    text = ",".join(header) + "\n" + "".join(",".join(row) + "\n" for row in rows)
    data = gzip.compress(text.encode(), mtime=0)
    at_once, row_by_row = (AudienceFile(io.BytesIO(data), len(data), CONTEXT) for _ in range(2))
    at_once_values = sorted(value for block in at_once.blocks() for value in block)
    row_by_row._plain_block = lambda block: None  # every block judged by the csv module
    assert at_once_values == sorted(value for block in row_by_row.blocks() for value in block)
    assert (at_once.errors.first, at_once.errors.count) == (row_by_row.errors.first, row_by_row.errors.count)
    assert at_once.rows == row_by_row.rows


def test_a_file_of_many_blocks_reads_each_line_once_and_names_lines_across_blocks(monkeypatch):
    monkeypatch.setattr("audiences.member_files.BLOCK_BYTES", 256)
    rows = [f"passthrough,qualify,vip,1748851070,u{n}" for n in range(200)]
    rows[150] = "passthrough,qualify,vip,soon,bad"
    rows[60] = 'passthrough,qualify,vip,1748851070,"quoted"'  # that block is read row by row
    text = "type,action,audience_id,ts,fs_user_id\n" + "\n".join(rows) + "\n"
    data = gzip.compress(text.encode())
    assert len(list(AudienceFile(io.BytesIO(data), len(data), CONTEXT).blocks())) > 20
    audience_file = read(text)
    assert sorted(audience_file.values) == sorted({f"u{n}" for n in range(200)} - {"u150", "u60"} | {"quoted"})
    assert audience_file.errors.first == [(152, "column `ts` must be epoch seconds")] and audience_file.rows == 200


def test_a_quoted_value_running_on_past_the_end_of_a_block_is_refused_as_in_one_block(monkeypatch):
    rows = [f"passthrough,qualify,vip,1748851070,u{n}" for n in range(40)]
    rows[20] = 'passthrough,qualify,vip,1748851070,"runs'
    text = "type,action,audience_id,ts,fs_user_id\n" + "\n".join(rows) + "\n"
    whole = rejected(text)
    monkeypatch.setattr("audiences.member_files.BLOCK_BYTES", 64)
    assert rejected(text) == whole == "line 22: a quoted value runs on over the next line; values hold no line breaks"


def test_reading_ahead_hands_over_every_block_in_order_and_the_reading_error_in_its_place():
    blocks = [LineBlock(n, b"x\n", last=False) for n in range(1, 6)]

    def failing():
        yield from blocks[:3]
        raise FileRejected("the gzip data is truncated or corrupt: upload the file again")

    got = []
    with pytest.raises(FileRejected, match="truncated"):
        for block in read_ahead(failing()):
            got.append(block)
    assert got == blocks[:3]
    before = set(threading.enumerate())
    early = read_ahead(iter(blocks))
    assert next(early) == blocks[0]
    early.close()  # the reader thread is released, not left waiting to hand over the next block
    assert set(threading.enumerate()) <= before
