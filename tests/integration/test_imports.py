"""Audience files through S3 -> SQS -> the imports function, on moto."""

from __future__ import annotations

import tracemalloc

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from audiences import memberships
from audiences.domain import ImportStatus
from audiences.settings import get_settings
from audiences.wiring import stores
from local.poller import QueuePoller
from local.provision import REGION
from tests.aws_calls import AWS_FAULTS
from tests.conftest import PLAN
from tests.imports_helpers import T, csv_gz, drain, imports_poller, one_huge_line, upload
from tests.rules.test_imports import latest, member_states, records


def give_up_drain(functions) -> int:
    poller = QueuePoller(
        functions["ImportsGiveUpFunction"], PLAN.names["ImportsDeadLetterQueue"], retry_after_seconds=0
    )
    received = 0
    while poller.poll_once():
        received += 1
    return received


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


def test_a_busy_audience_is_retried_a_minute_later_not_failed(vip, functions):
    assert stores().imports.acquire_lease("demo", "vip_users", "another-import", 600)
    upload(csv_gz(["a"]))
    poller = imports_poller(functions)
    queue = {"QueueUrl": poller.queue_url}
    [message] = poller.sqs.receive_message(**queue, VisibilityTimeout=0, AttributeNames=["All"])["Messages"]
    with pytest.raises(BatchProcessingError):
        functions["ImportsFunction"].invoke({"Records": [poller.event_record(message)]})
    assert latest().status is ImportStatus.PROCESSING  # waiting, not failed
    assert "Messages" not in poller.sqs.receive_message(**queue)  # the handler asked SQS for a minute
    stores().imports.release_lease("demo", "vip_users", "another-import")
    poller.sqs.change_message_visibility(**queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    drain(functions)  # a minute later
    assert (latest().status, latest().qualified) == (ImportStatus.SUCCESS, 1)


def test_an_import_whose_notification_is_dead_lettered_ends_failed_saying_why(vip, functions):
    """Waiting on a busy audience for every attempt: the queue gives up, and so does the activity log."""
    assert stores().imports.acquire_lease("demo", "vip_users", "another-import", 3600)
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
