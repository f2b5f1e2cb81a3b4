"""Audience files through S3 -> SQS -> the imports function, on moto."""

from __future__ import annotations

import gzip
import tracemalloc

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from audiences import memberships
from audiences.domain import ImportStatus, State, UserRef
from audiences.settings import get_settings
from audiences.stores import imports as import_store
from audiences.stores import memberships as membership_store
from local.poller import QueuePoller
from local.provision import REGION
from tests.aws_calls import AWS_FAULTS
from tests.conftest import PLAN
from tests.integration.helpers import customer_query, segment
from tests.integration.imports_helpers import HEADER, T, csv_gz, drain, imports_poller, one_huge_line, upload


@pytest.fixture
def vip(api, demo, functions):
    assert api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=demo["DEMO_PRIVATE_KEY"]).status == 200
    drain(functions)  # S3's test event from provisioning
    return demo


def records(audience: str | None = None):
    return import_store.page("demo", audience, None, None, 100)[0]


def latest():
    return records()[0]


def member_states(*users: str) -> dict[str, str]:
    states = {}
    for user in users:
        entry = membership_store.user_memberships("demo", UserRef("fs_user_id", user)).get("vip")
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


def test_an_unchanged_list_finishes_in_the_imports_function_with_no_chunk_to_apply(vip, functions):
    upload(csv_gz(["a", "b"]))
    drain(functions)
    upload(csv_gz(["b", "a"], ts=T + 10))  # tonight's export, the same members

    assert drain(functions) == 1  # its notification; no chunk was queued

    first, second = records()[1], records()[0]
    assert (second.status, second.qualified, second.disqualified, second.unchanged) == (ImportStatus.SUCCESS, 0, 0, 2)
    assert second.size_after == memberships.audience_size("demo", "vip") == 2
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=PLAN.names["DataBucket"], Prefix="imports/tenant=demo/snapshots/vip_users/"
    )
    assert [item["Key"].rsplit("/", 1)[1] for item in listing["Contents"]] == [f"{second.import_id}.parquet"]
    assert first.import_id != second.import_id


def gzip_header_only() -> bytes:
    return csv_gz([])


def test_changes_carry_the_upload_time_so_later_events_still_win(vip, functions, api):
    upload(csv_gz(["a"]))
    drain(functions)
    uploaded_at = latest().uploaded_at
    state, ts = membership_store.user_memberships("demo", UserRef("fs_user_id", "a"))["vip"]
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
    assert "audience_id must be 'vip_users' or 'vip', got 'other'" in record.errors[0][1]
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
    assert record.s3_key == key


@pytest.mark.parametrize("key", ["demo/other-folder/vip_users.csv.gz", "nobody/audience-diffs/vip_users.csv.gz"])
def test_objects_elsewhere_or_of_no_tenant_are_ignored(vip, functions, key):
    upload(csv_gz(["a"]), key=key)
    assert drain(functions) == 1  # consumed, not retried
    assert records() == []


def test_the_same_notification_twice_applies_once(vip, functions):
    upload(csv_gz(["a", "b"]))
    poller = imports_poller(functions)
    [message] = poller.sqs.receive_message(QueueUrl=poller.queue_url, VisibilityTimeout=0)["Messages"]
    poller.sqs.send_message(QueueUrl=poller.queue_url, MessageBody=message["Body"])
    drain(functions)
    [record] = records()
    assert (record.status, record.qualified, record.changes_applied) == (ImportStatus.SUCCESS, 2, 2)
    assert memberships.audience_size("demo", "vip") == 2


def test_an_older_upload_processed_after_a_newer_one_is_skipped(vip, functions):
    poller = imports_poller(functions)
    upload(csv_gz(["old"]))
    [older] = poller.sqs.receive_message(QueueUrl=poller.queue_url, VisibilityTimeout=600, AttributeNames=["All"])[
        "Messages"
    ]
    upload(csv_gz(["new"]))
    drain(functions)  # the newer upload first
    functions["ImportsFunction"].invoke({"Records": [poller.event_record(older)]})
    newest_first = records()
    assert [r.status for r in newest_first] == [ImportStatus.SUCCESS, ImportStatus.SKIPPED]
    assert "superseded" in newest_first[1].message
    assert member_states("old", "new") == {"old": None, "new": "qualified"}


def test_a_file_replaced_before_processing_is_skipped_for_the_newer_one(vip, functions):
    upload(csv_gz(["old"]))
    upload(csv_gz(["new"]))  # both notifications queued; the first finds the object replaced
    drain(functions)
    statuses = sorted(r.status.value for r in records())
    assert statuses == ["SKIPPED", "SUCCESS"]
    assert member_states("old", "new") == {"old": None, "new": "qualified"}


def test_a_busy_audience_is_retried_a_minute_later_not_failed(vip, functions):
    assert import_store.acquire_lease("demo", "vip_users", "another-import", 600)
    upload(csv_gz(["a"]))
    poller = imports_poller(functions)
    queue = {"QueueUrl": poller.queue_url}
    [message] = poller.sqs.receive_message(**queue, VisibilityTimeout=0, AttributeNames=["All"])["Messages"]
    with pytest.raises(BatchProcessingError):
        functions["ImportsFunction"].invoke({"Records": [poller.event_record(message)]})
    assert latest().status is ImportStatus.PROCESSING  # waiting, not failed
    assert "Messages" not in poller.sqs.receive_message(**queue)  # the handler asked SQS for a minute
    import_store.release_lease("demo", "vip_users", "another-import")
    poller.sqs.change_message_visibility(**queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    drain(functions)  # a minute later
    assert (latest().status, latest().qualified) == (ImportStatus.SUCCESS, 1)


def test_an_import_whose_notification_is_dead_lettered_ends_failed_saying_why(vip, functions):
    """Waiting on a busy audience for every attempt: the queue gives up, and so does the activity log."""
    assert import_store.acquire_lease("demo", "vip_users", "another-import", 3600)
    upload(csv_gz(["a"]))
    poller, attempts = imports_poller(functions), get_settings().import_attempts
    for attempt in range(1, attempts + 1):
        [message] = poller.sqs.receive_message(QueueUrl=poller.queue_url, AttributeNames=["All"])["Messages"]
        with pytest.raises(BatchProcessingError):
            functions["ImportsFunction"].invoke({"Records": [poller.event_record(message)]})
        assert (latest().status, latest().attempts) == (ImportStatus.PROCESSING, attempt)
        assert latest().message.startswith(f"attempt {attempt} of {attempts} failed (another import")
        poller.sqs.change_message_visibility(
            QueueUrl=poller.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    assert "Messages" not in poller.sqs.receive_message(QueueUrl=poller.queue_url)  # moved to the DLQ
    assert give_up_drain(functions) == 1
    record = latest()
    assert record.status is ImportStatus.FAILED and record.finished_at is not None
    assert record.message == (
        f"given up after {attempts} attempts (last failure: another import of the same audience was running); "
        "nothing more will be applied: upload the file again to retry"
    )
    assert member_states("a") == {"a": None}


def test_a_crash_is_noted_on_the_record_and_named_when_the_import_is_given_up(vip, functions):
    upload(csv_gz(["a"]))
    poller = imports_poller(functions)
    [message] = poller.sqs.receive_message(QueueUrl=poller.queue_url, AttributeNames=["All"])["Messages"]
    AWS_FAULTS.arm(2, "before")  # after the tenant and the record, within the import itself
    try:
        with pytest.raises(BatchProcessingError):
            functions["ImportsFunction"].invoke({"Records": [poller.event_record(message)]})
        assert AWS_FAULTS.fired
    finally:
        AWS_FAULTS.disarm()
    assert (latest().attempts, latest().last_failure) == (1, "InjectedFault")
    functions["ImportsGiveUpFunction"].invoke({"Records": [poller.event_record(message)]})
    assert latest().status is ImportStatus.FAILED
    assert "(last failure: InjectedFault)" in latest().message


def test_a_dead_letter_of_an_import_never_started_or_already_finished_is_handled(vip, functions):
    poller = imports_poller(functions)
    upload(csv_gz(["a"]))
    [crashed] = poller.sqs.receive_message(QueueUrl=poller.queue_url, AttributeNames=["All"])["Messages"]
    functions["ImportsGiveUpFunction"].invoke({"Records": [poller.event_record(crashed)]})  # no record yet
    assert latest().status is ImportStatus.FAILED
    assert "(last failure: none reported: the function timed out or ran out of memory)" in latest().message
    upload(csv_gz(["b"]))
    [finished] = poller.sqs.receive_message(QueueUrl=poller.queue_url, AttributeNames=["All"])["Messages"]
    functions["ImportsFunction"].invoke({"Records": [poller.event_record(finished)]})
    drain(functions)  # its chunk
    functions["ImportsGiveUpFunction"].invoke({"Records": [poller.event_record(finished)]})
    assert (latest().status, latest().qualified) == (ImportStatus.SUCCESS, 1)  # a late dead letter changes nothing


def give_up_drain(functions) -> int:
    poller = QueuePoller(
        functions["ImportsGiveUpFunction"], PLAN.names["ImportsDeadLetterQueue"], retry_after_seconds=0
    )
    received = 0
    while poller.poll_once():
        received += 1
    return received


def test_a_small_upload_holding_a_huge_line_fails_clearly_with_bounded_memory(vip, functions):
    """5.6 MB of gzip holding one 500 MB line once took the stack from 437 MB to 1,397 MB."""
    upload(one_huge_line(500 * 1024 * 1024))
    tracemalloc.start()
    try:
        drain(functions)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    record = latest()
    assert record.status is ImportStatus.FAILED
    assert record.message.startswith("line 2 is longer than 8192 bytes")
    assert peak < 64 * 1024 * 1024, f"the import held {peak / 2**20:.0f} MiB"  # moto's copies of the upload included
