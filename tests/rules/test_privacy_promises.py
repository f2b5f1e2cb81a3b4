"""What a privacy request promises when it says done, through the vendors' APIs on the in-memory stores: each
test here is one way the promise was broken (issue 37), met as a user meets it."""

from __future__ import annotations

import gzip
import io
import json
import time
import zipfile
from urllib.parse import unquote, urlparse

import pytest

from audiences import screening
from audiences.domain import UserRef
from audiences.ports.objects import Bucket
from audiences.ports.privacy import FOREVER
from audiences.privacy import jobs
from audiences.settings import Settings, SettingsError
from audiences.wiring import stores
from tests.imports_helpers import drain
from tests.integration.helpers import customer_query, event, segment, tracking_post
from tests.rules.test_privacy import regulate, regulation
from tests.rules.test_privacy_dialects import ITEM, adobe_call, compliance, jobs_body

ANN = UserRef("email", "ann@x.com")


def send(api, demo, *events) -> None:
    reply = api.call("POST", "/v3/events", list(events), key=demo["DEMO_PUBLIC_KEY"])
    assert reply.status == 202, reply.body


def archive() -> list[dict]:
    """Every record of the demo tenant's event archive."""
    found = []
    for stored in stores().objects.stored_objects(Bucket.DATA, "events/tenant=demo/"):
        data, _ = stores().objects.read_object(Bucket.DATA, stored.key)
        found += [json.loads(line) for line in gzip.decompress(data).splitlines()]
    return found


def archived_values() -> list[str]:
    return sorted(value for record in archive() for _, value in record["subjects"])


def delete(api, demo, functions, value: str = "ann@x.com") -> None:
    reply = compliance(api, demo, "POST", "/gdpr/delete", [ITEM | {"identifier_value": value}])
    assert reply.status == 202, reply.body
    drain(functions)
    [request_id] = reply.body["request_ids"]
    assert compliance(api, demo, "GET", f"/gdpr/status/{request_id}").body == "COMPLETED"


def test_an_access_export_of_someone_in_an_audience_holds_their_memberships_and_events(api, demo, functions):
    key = demo["DEMO_PRIVATE_KEY"]
    assert api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=key).status == 200
    send(api, demo, event("qualify", "ann@x.com", "vip", time.time() - 60, "email"))
    status, created = adobe_call(api, demo, "POST", "/jobs", jobs_body("access"))
    assert status == 200
    drain(functions)
    job = adobe_call(api, demo, "GET", f"/jobs/{created['jobs'][0]['jobId']}")[1]
    assert job["status"] == "complete", job
    export_key = unquote(urlparse(job["downloadURL"]).path).lstrip("/")
    with zipfile.ZipFile(io.BytesIO(stores().objects.read_object(Bucket.DATA, export_key)[0])) as export:
        held = json.loads(export.read("profileService.json"))
    audience = stores().catalog.get_audience("demo", "vip_users")
    assert [(m["audienceId"], m["key"], m["name"], m["state"]) for m in held["memberships"]] == [
        (audience.audience_id, "vip_users", "vip_users", "qualified")
    ]
    assert [e["event"]["identifiers"] for e in held["events"]] == [{"email": "ann@x.com"}]

    delete(api, demo, functions)  # a later erasure takes the export too
    assert stores().objects.read_object(Bucket.DATA, export_key) is None
    assert not list(stores().objects.stored_objects(Bucket.DATA, "privacy/tenant=demo/"))


def test_an_entry_dated_ahead_of_the_request_goes_with_the_erasure(api, demo, functions):
    key = demo["DEMO_PRIVATE_KEY"]
    assert api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=key).status == 200
    send(api, demo, event("qualify", "ann@x.com", "vip", time.time() + 250, "email"))  # within the allowed skew
    delete(api, demo, functions)
    assert stores().memberships.user_memberships("demo", ANN) == {}
    query = customer_query("ann@x.com") | {"query": customer_query("x")["query"].replace("fs_user_id", "email")}
    answer = api.call("POST", "/v3/graphql", query, key=demo["DEMO_PUBLIC_KEY"]).body
    assert answer["data"]["customer"] is None, answer
    assert "ann@x.com" not in archived_values()


def test_an_event_accepted_between_the_request_and_its_marks_goes_too(api, demo, client, functions):
    regulate_id = regulate(client, "SUPPRESS_WITH_DELETE", "ann")
    send(api, demo, event("qualify", "ann", "vip", time.time()))  # dated after the request, before any mark
    drain(functions)
    assert regulation(client, regulate_id)["overallStatus"] == "FINISHED"
    assert stores().memberships.user_memberships("demo", UserRef("fs_user_id", "ann")) == {}
    assert archived_values() == []


def test_a_replay_of_an_erased_subjects_older_event_is_not_archived_again(api, demo, functions):
    old = event("qualify", "ann@x.com", "vip", time.time() - 3600, "email")
    send(api, demo, old, event("qualify", "bob@x.com", "vip", time.time() - 3600, "email"))
    delete(api, demo, functions)
    send(api, demo, old)  # the client's retry, long after
    assert stores().memberships.user_memberships("demo", ANN) == {}
    assert archived_values() == ["bob@x.com"]


def test_a_later_shorter_request_never_shortens_a_suppression(api, demo, client, functions):
    regulate(client, "SUPPRESS_ONLY", "ann")  # until lifted
    drain(functions)
    reply = compliance(
        api, demo, "POST", "/gdpr/delete", [ITEM | {"identifier_field_name": "fs_user_id", "identifier_value": "ann"}]
    )
    assert reply.status == 202  # ODP's delete suppresses for 30 days
    drain(functions)
    [mark] = stores().privacy.screening("demo").marks.values()
    assert mark.suppressed_until == FOREVER
    in_forty_days = screening.screen("demo", time.time() + 40 * 86400)
    assert in_forty_days.drops("fs_user_id", "ann", time.time() + 40 * 86400)


def test_a_suppressed_users_large_call_is_neither_applied_nor_archived(api, demo, client, functions):
    regulate(client, "SUPPRESS_ONLY", "ann")
    drain(functions)
    call = {"type": "track", "userId": "ann", "event": "Viewed", "properties": {"seen": [f"s{n}" for n in range(3000)]}}
    status, answer, _ = tracking_post(api, "/v1/track", call, demo["DEMO_PUBLIC_KEY"])
    assert status == 200, answer
    assert archive() == []


def test_done_waits_until_every_container_screens_by_the_marks(api, demo, client, functions, setting):
    setting("PRIVACY_CACHE_SECONDS", "30")
    setting("PRIVACY_SETTLE_SECONDS", "30")
    for kind in ("SUPPRESS_ONLY", "UNSUPPRESS"):
        regulate_id = regulate(client, kind, "ann")
        drain(functions, limit=20)  # however often it is delivered now, a container may hold the old marks
        assert regulation(client, regulate_id)["overallStatus"] == "RUNNING"
        request_id = regulate_id
        assert jobs.run("demo", request_id, lambda: 900, now=lambda: time.time() + 31) is None
        assert regulation(client, regulate_id)["overallStatus"] == "FINISHED"
    with pytest.raises(SettingsError, match="PRIVACY_CACHE_SECONDS"):
        Settings({"PRIVACY_CACHE_SECONDS": "61", "PRIVACY_SETTLE_SECONDS": "60"})


def test_an_erasure_waits_only_for_imports_begun_before_its_marks_and_fails_loudly_past_its_deadline(
    api, demo, client, functions
):
    assert stores().imports.acquire_lease("demo", "churn", "an-import-in-flight", 3600)
    regulate_id = regulate(client, "DELETE_ONLY", "ann")
    drain(functions, limit=20)
    assert regulation(client, regulate_id)["overallStatus"] == "RUNNING"  # waiting for the import
    assert stores().imports.acquire_lease("demo", "vip", "a-later-import", 3600)  # screens by the marks: no wait
    stores().imports.release_lease("demo", "churn", "an-import-in-flight")
    drain(functions)
    assert regulation(client, regulate_id)["overallStatus"] == "FINISHED"

    assert stores().imports.acquire_lease("demo", "churn", "a-stuck-import", 86400)
    stuck_id = regulate(client, "DELETE_ONLY", "bob")
    drain(functions, limit=20)
    later = time.time() + jobs.IMPORTS_DEADLINE_SECONDS + 1
    with pytest.raises(jobs.PastDeadline):
        jobs.run("demo", stuck_id, lambda: 900, now=lambda: later)
    assert regulation(client, stuck_id)["overallStatus"] == "FAILED"


def test_a_job_past_its_deadline_is_a_metric_an_alarm_can_watch(api, demo, client, functions, capsys, monkeypatch):
    assert stores().imports.acquire_lease("demo", "churn", "a-stuck-import", 86400)
    regulate(client, "DELETE_ONLY", "bob")
    monkeypatch.setattr(jobs, "IMPORTS_DEADLINE_SECONDS", -1)
    drain(functions, limit=5)
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(m.get("PrivacyRequestsPastDeadline") == [1.0] for m in metrics), metrics


def test_a_job_whose_attempts_ran_out_ends_failed(api, demo, client, functions):
    regulate_id = regulate(client, "DELETE_ONLY", "ann")
    body = json.dumps({"tenant": "demo", "request": regulate_id})
    record = {
        "messageId": "m1",
        "receiptHandle": "m1",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "10"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:PrivacyDeadLetterQueue",
        "awsRegion": "us-east-1",
    }
    answer = functions["PrivacyGiveUpFunction"].invoke({"Records": [record]})
    assert answer == {"batchItemFailures": []}
    assert regulation(client, regulate_id)["overallStatus"] == "FAILED"
