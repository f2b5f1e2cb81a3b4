"""Audience files through S3 -> SQS -> the imports function, on moto."""

from __future__ import annotations

import gzip
import io

import polars as pl
import pytest

from audiences import memberships
from audiences.domain import ImportStatus, State, UserRef
from audiences.member_files import IDENTIFIER
from audiences.ports.objects import Bucket
from audiences.wiring import stores
from tests.imports_helpers import HEADER, T, csv_gz, drain, upload
from tests.integration.helpers import customer_query


def records(audience: str | None = None):
    return stores().imports.page("demo", audience, None, None, 100)[0]


def latest():
    return records()[0]


def member_states(*users: str) -> dict[str, str]:
    states = {}
    for user in users:
        entry = stores().memberships.user_memberships("demo", UserRef("fs_user_id", user)).get("vip")
        states[user] = entry[0].value if entry else None
    return states


def test_a_sequence_of_imports_applies_exactly_the_differences(vip, functions, api):
    upload(csv_gz(["a", "b", "c"]))
    drain(functions)
    first = latest()
    assert (first.status, first.rows, first.qualified, first.disqualified, first.unchanged) == (
        ImportStatus.SUCCESS,
        3,
        3,
        0,
        0,
    )
    assert memberships.audience_size("demo", "vip") == 3

    upload(csv_gz(["b", "c", "d", "d"], audience="vip_users"))  # by segment id, with a duplicate row
    drain(functions)
    second = latest()
    assert (second.rows, second.qualified, second.disqualified, second.unchanged) == (4, 1, 1, 2)
    assert member_states("a", "b", "c", "d") == {
        "a": "disqualified",
        "b": "qualified",
        "c": "qualified",
        "d": "qualified",
    }

    upload(gzip_header_only())
    drain(functions)
    assert (latest().qualified, latest().disqualified) == (0, 3)
    assert memberships.audience_size("demo", "vip") == 0

    upload(csv_gz(["a"], ts=T - 86_400))  # re-joins, with a row ts older than when a left
    drain(functions)
    assert member_states("a") == {"a": "qualified"}
    assert memberships.audience_size("demo", "vip") == 1
    reply = api.call("POST", "/v3/graphql", customer_query("a"), key=vip["DEMO_PUBLIC_KEY"])
    assert reply.body["data"]["customer"]["audiences"]["edges"] == [
        {"node": {"name": "vip_users", "state": "qualified"}}
    ]
    assert [r.status for r in records()] == [ImportStatus.SUCCESS] * 4


def gzip_header_only() -> bytes:
    return csv_gz([])


def test_changes_carry_the_upload_time_so_later_events_still_win(vip, functions, api):
    upload(csv_gz(["a"]))
    drain(functions)
    uploaded_at = latest().as_of
    state, ts = stores().memberships.user_memberships("demo", UserRef("fs_user_id", "a"))["vip"]
    assert (state, ts) == (State.QUALIFIED, uploaded_at)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty (0 bytes)"),
        (b"not gzip at all", "the file is not gzip-compressed"),
        (csv_gz([], header="type,action,audience_id,fs_user_id\n"), "missing column(s) ts"),
        (csv_gz([], header="type,action,audience_id,ts,fs_user_id,colour\n"), "unknown column(s) colour"),
    ],
    ids=["empty", "not-gzip", "missing-column", "unknown-column"],
)
def test_unreadable_files_fail_whole_and_change_nothing(vip, functions, data, message):
    upload(data)
    drain(functions)
    record = latest()
    assert record.status is ImportStatus.FAILED and message in record.message
    assert memberships.audience_size("demo", "vip") == 0


def test_one_bad_row_fails_the_file_with_line_numbers_and_nothing_is_applied(vip, functions):
    upload(csv_gz(["a", "b"]))
    drain(functions)
    rows = HEADER + "passthrough,qualify,vip,1748851070,c\npassthrough,qualify,other,1748851070,d\n"
    rows += "passthrough,qualify,vip,1748851070000,e\n"
    upload(gzip.compress(rows.encode(), mtime=0))
    drain(functions)
    record = latest()
    assert record.status is ImportStatus.FAILED
    assert record.message == "2 of 3 rows are invalid; nothing was applied"
    assert [line for line, _ in record.errors] == [3, 4] and record.error_count == 2
    assert "column `audience_id` must be 'vip_users' or 'vip'" in record.errors[0][1]
    assert member_states("a", "b", "c") == {"a": "qualified", "b": "qualified", "c": None}
    upload(csv_gz(["b"]))  # the next good file diffs against the last *successful* import
    drain(functions)
    assert (latest().qualified, latest().disqualified) == (0, 1)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("demo/audience-diffs/vip_users.csv", "does not end in .csv.gz"),
        ("demo/audience-diffs/", "has no file name"),
        ("demo/audience-diffs/nested/vip_users.csv.gz", "has no file name directly under audience-diffs/"),
        ("demo/audience-diffs/unknown_segment.csv.gz", "there is no audience 'unknown_segment'"),
        ("demo/audience-diffs/Bad-Name.csv.gz", "'Bad-Name' is not a segment id"),
    ],
)
def test_wrongly_named_files_fail_saying_what_was_expected(vip, functions, key, message):
    upload(csv_gz(["a"]), key=key)
    drain(functions)
    record = latest()
    assert record.status is ImportStatus.FAILED and message in record.message
    assert record.source == key


@pytest.mark.parametrize("key", ["demo/other-folder/vip_users.csv.gz", "nobody/audience-diffs/vip_users.csv.gz"])
def test_objects_elsewhere_or_of_no_tenant_are_ignored(vip, functions, key):
    upload(csv_gz(["a"]), key=key)
    assert drain(functions) == 1  # consumed, not retried
    assert records() == []


def test_a_file_replaced_before_processing_is_skipped_for_the_newer_one(vip, functions):
    upload(csv_gz(["old"]))
    upload(csv_gz(["new"]))  # both notifications queued; the first finds the object replaced
    drain(functions)
    statuses = sorted(r.status.value for r in records())
    assert statuses == ["SKIPPED", "SUCCESS"]
    assert member_states("old", "new") == {"old": None, "new": "qualified"}


def test_an_imports_member_lists_name_their_identifier_field(vip, functions):
    upload(csv_gz(["ann", "bob"]))
    drain(functions)
    lists = [o.key for o in stores().objects.stored_objects(Bucket.DATA, "imports/tenant=demo/")]
    assert len(lists) == 1 and "/snapshots/" in lists[0]  # the joined and left lists went once applied
    for key in lists:
        data, _ = stores().objects.read_object(Bucket.DATA, key)
        assert pl.read_parquet_metadata(io.BytesIO(data))[IDENTIFIER] == "fs_user_id", key
