"""An import's changes applied in chunks by the apply function, on moto with tiny chunks: duplicates
of every message, supersession mid-apply, a chunk that cannot be applied; sizes exact in every case."""

from __future__ import annotations

import json
from dataclasses import replace

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from audiences import catalog, importer, memberships
from audiences.adobe import runs as adobe_runs
from audiences.domain import OPERATOR, Audience, Confidence, ImportStatus, Tenant, UserRef
from audiences.importer import planning
from audiences.odp import imports as odp_imports
from audiences.settings import get_settings
from audiences.stores import imports as import_store
from audiences.stores import memberships as membership_store
from audiences.stores import tenants as tenant_store
from local.poller import QueuePoller
from local.provision import REGION
from tests.conftest import PLAN
from tests.imports_helpers import apply_poller, csv_gz, drain, imports_poller, upload

TENANT, KEY = "fan", "fan/audience-diffs/vip_users.csv.gz"
FIRST = [f"u{n:05d}" for n in range(10_000)]


@pytest.fixture
def tiny_chunks(aws, functions, monkeypatch):
    monkeypatch.setattr(planning, "CHUNK_CHANGES", 100)
    drain(functions)
    tenant_store.create_tenant(Tenant.of(TENANT, fs_user_id=Confidence.HIGH))
    catalog.put_audience(TENANT, Audience("vip_users", "vip"), OPERATOR)


def latest():
    return import_store.page(TENANT, None, None, None, 1)[0][0]


def states(users) -> dict[str, str]:
    found = {}
    for user in users:
        entry = membership_store.user_memberships(TENANT, UserRef("fs_user_id", user)).get("vip")
        found[user] = entry[0].value if entry else None
    return found


def assert_members_are(members: list[str], ever: list[str]) -> None:
    """The size exactly, and the state of every 25th user who was ever a member (moto's Query reads
    the whole table each time: every user's would take minutes)."""
    assert memberships.audience_size(TENANT, "vip") == len(members)
    sample, current = ever[::25], set(members)
    assert states(sample) == {user: "qualified" if user in current else "disqualified" for user in sample}


def queued(poller: QueuePoller) -> list[dict]:
    """Every message on the poller's queue, left there (visible again at once)."""
    messages = []
    while batch := poller.sqs.receive_message(
        QueueUrl=poller.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30
    ).get("Messages"):
        messages += batch
    for message in messages:
        poller.sqs.change_message_visibility(
            QueueUrl=poller.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return messages


def test_two_thousand_members_apply_in_a_hundred_chunks_and_the_next_import_in_twelve(
    tiny_chunks, functions, monkeypatch
):
    monkeypatch.setattr(planning, "CHUNK_CHANGES", 20)  # a hundred chunks at a fifth of the writes
    first_file = FIRST[:2000]
    second_file = first_file[100:] + [f"n{n:05d}" for n in range(140)]  # 100 leave, 140 join
    upload(csv_gz(first_file), key=KEY)
    assert imports_poller(functions).poll_once() == 1
    planned = latest()
    assert (planned.status, planned.chunks_total, planned.changes_total) == (ImportStatus.PROCESSING, 100, 2_000)
    assert len(queued(apply_poller(functions))) == 100
    assert not import_store.acquire_lease(TENANT, "vip_users", "a-newer-import", 60)  # the apply holds it
    drain(functions)
    first = latest()
    assert (first.status, first.chunks_done, first.changes_applied, first.qualified) == (
        ImportStatus.SUCCESS,
        100,
        2_000,
        2_000,
    )
    upload(csv_gz(second_file), key=KEY)
    drain(functions)
    second = latest()
    assert (second.status, second.chunks_total, second.qualified, second.disqualified, second.unchanged) == (
        ImportStatus.SUCCESS,
        12,  # 5 chunks of leavers, 7 of joiners: a chunk holds one kind of change
        140,
        100,
        1_900,
    )
    assert_members_are(second_file, first_file[:120] + second_file[-40:])
    assert import_store.acquire_lease(TENANT, "vip_users", "a-newer-import", 60)  # freed by the last chunk


def test_progress_shows_chunks_and_changes_while_it_runs(tiny_chunks, functions):
    upload(csv_gz(FIRST[:1000]), key=KEY)
    imports_poller(functions).poll_once()
    chunks = apply_poller(functions)
    for _ in range(3):
        chunks.poll_once()
    running = latest()
    assert (running.status, running.chunks_done, running.chunks_total) == (ImportStatus.PROCESSING, 3, 10)
    assert (running.changes_applied, running.changes_total) == (300, 1000)
    progress = odp_imports.record_body(running)["progress"]  # what GET /v3/imports/{id} answers
    assert (progress["chunks_done"], progress["chunks_total"], progress["changes_applied"]) == (3, 10, 300)
    as_run = replace(running, window_start=0.0, window_end=1.0)  # a run's record, as Adobe shows it
    run = adobe_runs.run_object(Audience("vip_users", "vip"), adobe_runs.ShownRun(as_run, "r", differential=False))
    assert run["progress"] == {
        "rowsRead": 1000,
        "changesApplied": 300,
        "changesTotal": 1000,
        "chunksApplied": 3,
        "chunksTotal": 10,
    }
    drain(functions)
    assert latest().status is ImportStatus.SUCCESS


def test_every_message_delivered_twice_applies_once(tiny_chunks, functions):
    upload(csv_gz(FIRST[:1000]), key=KEY)
    notifications = imports_poller(functions)
    [notice] = queued(notifications)
    notifications.sqs.send_message(QueueUrl=notifications.queue_url, MessageBody=notice["Body"])
    notifications.poll_once()
    notifications.poll_once()  # the duplicate finds the plan and queues every chunk not yet applied, again
    chunks = apply_poller(functions)
    messages = queued(chunks)
    assert len(messages) == 20
    drain(functions)
    for message in messages[:10]:  # chunks (the last among them) delivered once more after the end
        chunks.sqs.send_message(QueueUrl=chunks.queue_url, MessageBody=message["Body"])
    drain(functions)
    done = latest()
    assert (done.status, done.changes_applied, done.chunks_done, done.qualified) == (
        ImportStatus.SUCCESS,
        1000,
        10,
        1000,
    )
    assert memberships.audience_size(TENANT, "vip") == 1000


def test_a_chunk_applied_but_not_counted_is_applied_again_harmlessly(tiny_chunks, functions, monkeypatch):
    upload(csv_gz(FIRST[:1000]), key=KEY)
    imports_poller(functions).poll_once()
    counted = import_store.chunk_applied

    def crash_once(*args):
        monkeypatch.setattr(import_store, "chunk_applied", counted)
        raise RuntimeError("crashed after writing the chunk's memberships")

    monkeypatch.setattr(import_store, "chunk_applied", crash_once)
    drain(functions)
    done = latest()
    assert (done.status, done.changes_applied, done.attempts) == (ImportStatus.SUCCESS, 1000, 1)
    assert memberships.audience_size(TENANT, "vip") == 1000


def test_a_newer_upload_waits_for_the_apply_then_decides(tiny_chunks, functions):
    """It waits rather than supersedes: the older apply's changes carry older ts, and the newer diff is
    taken against the state the older one advances to, so nothing either writes is left stale."""
    upload(csv_gz(FIRST[:1000]), key=KEY)
    notifications = imports_poller(functions)
    notifications.poll_once()
    chunks = apply_poller(functions)
    for _ in range(4):
        chunks.poll_once()
    upload(csv_gz(FIRST[500:1500]), key=KEY)
    [newer] = notifications.sqs.receive_message(QueueUrl=notifications.queue_url, AttributeNames=["All"])["Messages"]
    with pytest.raises(BatchProcessingError):
        functions["ImportsFunction"].invoke({"Records": [notifications.event_record(newer)]})
    waiting = latest()
    assert waiting.status is ImportStatus.PROCESSING and "another import" in waiting.message
    while chunks.poll_once():  # the older apply goes on meanwhile
        pass
    notifications.sqs.change_message_visibility(  # the minute has passed
        QueueUrl=notifications.queue_url, ReceiptHandle=newer["ReceiptHandle"], VisibilityTimeout=0
    )
    drain(functions)
    older, newest = import_store.page(TENANT, None, None, None, 2)[0][::-1]
    assert (older.status, newest.status) == (ImportStatus.SUCCESS, ImportStatus.SUCCESS)
    assert (newest.qualified, newest.disqualified, newest.unchanged) == (500, 500, 500)
    assert_members_are(FIRST[500:1500], FIRST[:1500])


def poison(chunk_number: int) -> None:
    """Make one chunk unreadable in the import's changes object (as a bug or a bad write would leave it)."""
    s3, bucket = boto3.client("s3", region_name=REGION), PLAN.names["DataBucket"]
    plan = importer.Plan.from_json(import_store.planned(TENANT, latest().import_id))
    start, end = json.loads(s3.get_object(Bucket=bucket, Key=plan.index_key)["Body"].read())[chunk_number]
    changes = bytearray(s3.get_object(Bucket=bucket, Key=plan.changes_key)["Body"].read())
    changes[start:end] = b"x" * (end - start)
    s3.put_object(Bucket=bucket, Key=plan.changes_key, Body=bytes(changes))


def dead_letters(functions) -> int:
    poller = QueuePoller(functions["ApplyGiveUpFunction"], PLAN.names["ApplyDeadLetterQueue"], 0)
    received = 0
    while polled := poller.poll_once():
        received += polled
    return received


def test_a_chunk_that_cannot_be_applied_fails_the_import_and_the_next_one_sets_its_users_right(tiny_chunks, functions):
    upload(csv_gz(FIRST[:1000]), key=KEY)
    drain(functions)
    upload(csv_gz(FIRST[300:1000] + [f"n{n}" for n in range(400)]), key=KEY)  # 300 leave, 400 join: 7 chunks
    imports_poller(functions).poll_once()
    poison(5)  # one of the joiners' chunks; the others apply
    drain(functions)
    assert dead_letters(functions) == 1
    failed = latest()
    assert failed.status is ImportStatus.FAILED
    assert failed.message.startswith(
        f"chunk 5 could not be applied in {get_settings().import_attempts} attempts (last failure: chunk 5: "
    )
    assert f"{failed.changes_applied} of 700 changes were applied" in failed.message
    assert failed.changes_applied == 600
    assert import_store.state(TENANT, "vip_users").import_id != failed.import_id  # not advanced
    assert len(import_store.unsettled(TENANT, "vip_users")) == 1
    # The next file keeps some of the failed import's joiners and leavers and drops others.
    final = FIRST[:100] + FIRST[500:1000] + [f"n{n}" for n in range(200)]
    upload(csv_gz(final), key=KEY)
    drain(functions)
    settled = latest()
    assert settled.status is ImportStatus.SUCCESS
    assert_members_are(final, FIRST[:1000] + [f"n{n}" for n in range(400)])
    assert import_store.unsettled(TENANT, "vip_users") == []
    assert import_store.acquire_lease(TENANT, "vip_users", "a-newer-import", 60)


def test_throttled_chunks_back_off_and_the_import_succeeds(tiny_chunks, functions):
    from tests.aws_calls import DYNAMODB_CONFLICTS

    upload(csv_gz(FIRST[:1000]), key=KEY)
    imports_poller(functions).poll_once()
    DYNAMODB_CONFLICTS.code, DYNAMODB_CONFLICTS.remaining = "ThrottlingError", 6
    try:
        drain(functions)
    finally:
        DYNAMODB_CONFLICTS.remaining, DYNAMODB_CONFLICTS.code = 0, "TransactionConflict"
    done = latest()
    assert (done.status, done.changes_applied, done.attempts) == (ImportStatus.SUCCESS, 1000, 0)
    assert memberships.audience_size(TENANT, "vip") == 1000


def test_a_chunk_of_a_finished_import_is_dropped(tiny_chunks, functions):
    upload(csv_gz(FIRST[:100]), key=KEY)
    drain(functions)
    stale = importer.Chunk(TENANT, "vip_users", latest().import_id, 0)
    chunks = apply_poller(functions)
    chunks.sqs.send_message(QueueUrl=chunks.queue_url, MessageBody=json.dumps({"chunk": stale.__dict__}))
    assert drain(functions) == 1
    assert latest().status is ImportStatus.SUCCESS and memberships.audience_size(TENANT, "vip") == 100


def test_an_import_given_up_after_planning_fails_and_leaves_its_users_to_the_next(tiny_chunks, functions):
    upload(csv_gz(FIRST[:1000]), key=KEY)
    notifications = imports_poller(functions)
    [notice] = queued(notifications)
    notifications.poll_once()
    apply_poller(functions).poll_once()  # one chunk of ten applied
    functions["ImportsGiveUpFunction"].invoke({"Records": [notifications.event_record(notice)]})
    failed = latest()
    assert failed.status is ImportStatus.FAILED and "100 of 1000 changes were applied" in failed.message
    assert failed.message.startswith("given up after")
    assert len(import_store.unsettled(TENANT, "vip_users")) == 1
    drain(functions)  # the other chunks are dropped: their import has ended
    assert memberships.audience_size(TENANT, "vip") == 100
    upload(csv_gz(FIRST[500:1000]), key=KEY)
    drain(functions)
    assert latest().status is ImportStatus.SUCCESS
    assert_members_are(FIRST[500:1000], FIRST[:1000])


def test_ten_apply_workers_and_events_at_once_on_one_audience_meet_in_conflicts_and_sizes_stay_exact(
    tiny_chunks, functions
):
    """As on AWS: transactions of several workers in flight at once on one audience's size shards are
    cancelled now and then (local/moto_fidelity.py models it), and every change still lands once."""
    from concurrent.futures import ThreadPoolExecutor

    from audiences.domain import MembershipChange, State
    from local.moto_fidelity import CONFLICTS

    upload(csv_gz(FIRST[:2000]), key=KEY)
    imports_poller(functions).poll_once()  # 20 chunks of 100 queued
    chunks = apply_poller(functions)
    messages = []
    while batch := chunks.sqs.receive_message(QueueUrl=chunks.queue_url, MaxNumberOfMessages=10).get("Messages"):
        messages += batch
    events = [MembershipChange(UserRef("fs_user_id", f"e{n}"), "vip", State.QUALIFIED, 1.0) for n in range(400)]
    cancelled = CONFLICTS.cancelled["transactions"]

    def work(n: int) -> None:
        if n < len(messages):
            importer.apply_chunk(importer.chunks(messages[n]["Body"])[0])
        else:  # uploads of events, meanwhile
            memberships.apply(TENANT, events[(n - len(messages)) * 100 : (n - len(messages) + 1) * 100])

    with ThreadPoolExecutor(10) as workers:
        list(workers.map(work, range(len(messages) + 4)))

    assert CONFLICTS.cancelled["transactions"] > cancelled  # the conflict path ran, for real
    assert latest().status is ImportStatus.SUCCESS
    assert memberships.audience_size(TENANT, "vip") == 2400
