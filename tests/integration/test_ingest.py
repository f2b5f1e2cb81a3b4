"""POST /v3/events through the ingest handler on moto."""

from __future__ import annotations

import gzip
import json
import time
from http import HTTPStatus

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from audiences import auth
from audiences.domain import Confidence, Principal, Scope, State, Tenant
from audiences.settings import get_settings
from audiences.wiring import stores
from tests.integration.helpers import event
from tests.rules.test_ingest import T, raw_call, state_of


def archived() -> dict[str, list[dict]]:
    """Every archive object Firehose delivered to DataBucket: key -> its records."""
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = get_settings().data_bucket
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="events/").get("Contents", [])]
    return {
        key: [
            json.loads(line)
            for line in gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).splitlines()
        ]
        for key in keys
    }


def test_every_accepted_event_is_archived_by_tenant_and_date(api, demo):
    identify = {"type": "fullstack", "action": "identified", "identifiers": {"vuid": "v1", "fs_user_id": "u1"}}
    batch = [event("qualify", "u1", "vip", T), identify]
    assert api.call("POST", "/v3/events", batch, key=demo["DEMO_PUBLIC_KEY"]).status == 202
    [(key, lines)] = archived().items()
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert key.startswith(f"events/tenant=demo/date={day}/") and key.endswith(".gz")
    assert [line["event"] for line in lines] == batch
    assert [line["index"] for line in lines] == [0, 1] and len({line["upload_id"] for line in lines}) == 1
    assert all(line["received_at"].startswith(day) and line["tenant"] == "demo" for line in lines)
    assert state_of("u1", "vip") == (State.QUALIFIED, T)


def test_a_retried_upload_is_archived_under_one_upload_id(api, demo):
    batch = [event("qualify", "u1", "vip", T), event("qualify", "u2", "vip", T)]
    for _ in range(3):
        assert api.call("POST", "/v3/events", batch, key=demo["DEMO_PUBLIC_KEY"]).status == 202
    records = [line for lines in archived().values() for line in lines]
    assert len(records) == 6  # Firehose is at-least-once, and so are clients: readers keep one per key
    assert len({(line["upload_id"], line["index"]) for line in records}) == 2


def test_tenants_are_archived_apart(api, demo):
    stores().tenants.create_tenant(Tenant.of("other", fs_user_id=Confidence.HIGH))
    other_key = auth.issue_key(Principal("other", Scope.PUBLIC))
    api.call("POST", "/v3/events", event("qualify", "u1", "vip", T), key=demo["DEMO_PUBLIC_KEY"])
    api.call("POST", "/v3/events", event("qualify", "u9", "vip", T), key=other_key)
    by_tenant = {
        key.split("/")[1]: [line["event"]["identifiers"] for line in lines] for key, lines in archived().items()
    }
    assert by_tenant == {"tenant=demo": [{"fs_user_id": "u1"}], "tenant=other": [{"fs_user_id": "u9"}]}


def refusing_firehose(times: int, sent: list[int]):
    """Firehose answering PutRecordBatch `times` times with its first record refused (the AWS boundary);
    `sent` collects how many records each PutRecordBatch carried."""
    from audiences.stores import clients

    left = {"times": times}

    def answer(model, params, **_):
        if model.name != "PutRecordBatch":
            return None
        sent.append(len(json.loads(params["body"])["Records"]))
        if left["times"] <= 0:
            return None
        left["times"] -= 1
        results = [{"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "slow down"}]
        results += [{"RecordId": "accepted"}] * (sent[-1] - 1)
        return AWSResponse("https://firehose", 200, {}, None), {"FailedPutCount": 1, "RequestResponses": results}

    # On the generic event, after the call counter: a more specific handler would run before it.
    events = clients.firehose().meta.events
    events.register("before-call", answer, unique_id="refusing-firehose")
    return lambda: events.unregister("before-call", unique_id="refusing-firehose")


def test_only_the_records_firehose_refused_are_sent_again(api, demo):
    sent: list[int] = []
    stop = refusing_firehose(2, sent)
    try:
        batch = [event("qualify", f"u{n}", "vip", T) for n in range(3)]
        assert api.call("POST", "/v3/events", batch, key=demo["DEMO_PUBLIC_KEY"]).status == 202
    finally:
        stop()
    assert sent == [3, 1, 1]  # the upload, then its refused record until Firehose takes it
    [lines] = archived().values()
    assert [line["index"] for line in lines] == [0]  # what reached S3 here: the re-sent record
    assert state_of("u2", "vip") == (State.QUALIFIED, T)


def test_an_archive_that_keeps_refusing_fails_the_upload_with_nothing_applied(api, demo):
    stop = refusing_firehose(100, [])
    try:
        reply = api.call("POST", "/v3/events", event("qualify", "u1", "vip", T), key=demo["DEMO_PUBLIC_KEY"])
    finally:
        stop()
    assert reply.status == 500
    assert reply.body["detail"]["message"] == "internal error: retrying the same request is safe"
    assert state_of("u1", "vip") is None


def test_other_event_types_are_accepted_without_membership_changes(api, demo):
    sdk_event = {"type": "fullstack", "action": "client_initialized", "identifiers": {"vuid": "v1"}, "data": {}}
    assert api.call("POST", "/v3/events", sdk_event, key=demo["DEMO_PUBLIC_KEY"]).status == 202
    [lines] = archived().values()
    assert [line["event"] for line in lines] == [sdk_event]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b'{"a":1}', "text/plain", 415, "Content-Type must be application/json, got 'text/plain'"),
        (b"x=1", "application/x-www-form-urlencoded", 415, "Content-Type must be application/json"),
        (b"[" + b" " * (1024 * 1024) + b"]", "application/json", 413, "larger than 1048576 bytes"),
        (b"", "application/json", 400, "the request body is empty"),
        (b"[]", "application/json; charset=utf-8", 400, "the array of events is empty"),
        (b"{oops", None, 400, "the request body is not valid JSON"),
        (b"42", "application/json", 400, "one event object or a JSON array"),
    ],
)
def test_bad_bodies_get_a_clear_4xx_and_change_nothing(api, demo, body, content_type, status, message):
    got_status, answer = raw_call(api, body, content_type, demo["DEMO_PUBLIC_KEY"])
    assert got_status == status
    assert answer["status"] == status and answer["title"] == HTTPStatus(status).phrase
    assert message in answer["detail"]["message"]
    assert archived() == {}


def test_more_than_500_events_is_refused_whole(api, demo):
    batch = [event("qualify", f"u{n}", "vip", T) for n in range(501)]
    reply = api.call("POST", "/v3/events", batch, key=demo["DEMO_PUBLIC_KEY"])
    assert reply.status == 400
    assert "at most 500 events, got 501: split the batch" in reply.body["detail"]["message"]
    assert state_of("u0", "vip") is None and archived() == {}


def big_event(json_bytes: int) -> dict:
    shell = {"type": "fullstack", "action": "identified", "identifiers": {"vuid": "v1"}, "data": {"blob": ""}}
    return shell | {"data": {"blob": "x" * (json_bytes - len(json.dumps(shell).encode()))}}


def test_an_event_too_large_for_one_archive_record_is_refused_by_index(api, demo):
    from audiences.ingest import MAX_EVENT_BYTES

    too_big = big_event(MAX_EVENT_BYTES + 10)
    reply = api.call("POST", "/v3/events", too_big, key=demo["DEMO_PUBLIC_KEY"])  # the body itself is under 1 MiB
    assert reply.status == 400
    [problem] = reply.body["detail"]["invalids"]
    assert problem["event"] == 0 and f"at most {MAX_EVENT_BYTES} bytes" in problem["message"]
    assert archived() == {}
    largest = big_event(MAX_EVENT_BYTES - 10)
    assert api.call("POST", "/v3/events", largest, key=demo["DEMO_PUBLIC_KEY"]).status == 202
    [lines] = archived().values()
    assert [line["event"] for line in lines] == [largest]


def test_an_invalid_batch_is_neither_applied_nor_archived(api, demo):
    batch = [event("qualify", "u1", "vip", T), event("qualify", "u2", "vip", time.time() + 3600)]
    reply = api.call("POST", "/v3/events", batch, key=demo["DEMO_PUBLIC_KEY"])
    assert reply.status == 400
    [invalid] = reply.body["detail"]["invalids"]
    assert invalid["event"] == 1
    assert "is more than 300 s in the future, the most allowed" in invalid["message"]
    assert state_of("u1", "vip") is None and archived() == {}
