"""Privacy requests, through the vendors' APIs and the privacy job, on the in-memory stores: what a delete
erases and purges, what a suppression drops, and what still counts afterwards."""

from __future__ import annotations

import gzip
import io
import json
import time

import polars as pl
import pytest

from audiences import memberships
from audiences.domain import UserRef
from audiences.member_files import MEMBER
from audiences.ports.objects import Bucket
from audiences.wiring import stores
from tests.imports_helpers import HEADER, csv_gz, drain, upload
from tests.integration.helpers import event, segment


def regulate(client, regulation_type: str, *users: str) -> str:
    body = {"regulationType": regulation_type, "subjectType": "USER_ID", "subjectIds": list(users)}
    status, _, answer = client.call("POST", "/regulations", body)
    assert status == 200, answer
    return answer["data"]["regulateId"]


def regulation(client, regulate_id: str) -> dict:
    status, _, answer = client.call("GET", f"/regulations/{regulate_id}")
    assert status == 200, answer
    return answer["data"]["regulation"]


def send(api, demo, *events) -> None:
    reply = api.call("POST", "/v3/events", list(events), key=demo["DEMO_PUBLIC_KEY"])
    assert reply.status == 202, reply.body


def state(user: str) -> dict:
    return {
        ext: s.value
        for ext, (s, _) in stores().memberships.user_memberships("demo", UserRef("fs_user_id", user)).items()
    }


def archived_users() -> list[str]:
    """Every fs_user_id the archive holds, object by object."""
    found = []
    for stored in stores().objects.stored_objects(Bucket.DATA, "events/tenant=demo/"):
        data, _ = stores().objects.read_object(Bucket.DATA, stored.key)
        for line in gzip.decompress(data).splitlines():
            found.append(json.loads(line)["event"]["identifiers"]["fs_user_id"])
    return found


@pytest.fixture
def members(api, demo, client, functions):
    """ann and bob qualified for vip and churn by events, carl for vip."""
    now = time.time() - 60
    send(
        api,
        demo,
        event("qualify", "ann", "vip", now),
        event("qualify", "ann", "churn", now),
        event("qualify", "bob", "vip", now),
        event("disqualify", "bob", "churn", now),
        event("qualify", "carl", "vip", now),
    )
    return now


def test_suppress_with_delete_erases_purges_and_drops_later_events_until_unsuppressed(
    api, demo, client, functions, members, setting
):
    setting("MAX_FUTURE_SKEW_SECONDS", "0")  # so that an event sent after the erasure can be dated after it
    regulate_id = regulate(client, "SUPPRESS_WITH_DELETE", "ann", "bob")
    assert regulation(client, regulate_id)["overallStatus"] == "INITIALIZED"
    drain(functions)
    finished = regulation(client, regulate_id)
    assert finished["overallStatus"] == "FINISHED" and finished["finishedAt"]
    assert state("ann") == {} and state("bob") == {}
    assert state("carl") == {"vip": "qualified"}
    assert memberships.audience_size("demo", "vip") == 1 and memberships.audience_size("demo", "churn") == 0
    assert sorted(archived_users()) == ["carl"]

    send(api, demo, event("qualify", "ann", "vip", time.time()))  # suppressed: accepted, dropped, not archived
    assert state("ann") == {} and sorted(archived_users()) == ["carl"]
    status, _, suppressions = client.call("GET", "/suppressions")
    assert status == 200 and len(suppressions["data"]["suppressed"][0]["subjectIds"]) == 2
    assert all(s.startswith("hmac:") and "ann" not in s for s in suppressions["data"]["suppressed"][0]["subjectIds"])

    regulate(client, "UNSUPPRESS", "ann")
    drain(functions)
    send(api, demo, event("qualify", "ann", "vip", time.time()))
    assert state("ann") == {"vip": "qualified"} and memberships.audience_size("demo", "vip") == 2


def test_a_replay_older_than_the_erasure_stays_out_and_a_newer_event_counts(
    api, demo, client, functions, members, setting
):
    setting("MAX_FUTURE_SKEW_SECONDS", "0")  # so that an event sent after the erasure can be dated after it
    regulate(client, "DELETE_ONLY", "ann")
    drain(functions)
    send(api, demo, event("qualify", "ann", "vip", members))  # the replay: older than the erasure
    assert state("ann") == {}
    send(api, demo, event("qualify", "ann", "churn", time.time()))
    assert state("ann") == {"churn": "qualified"} and memberships.audience_size("demo", "churn") == 1


def test_a_suppressed_subjects_file_rows_are_counted_and_leave_its_memberships_as_they_are(
    api, demo, client, functions, vip
):
    key = demo["DEMO_PRIVATE_KEY"]
    upload(csv_gz(["ann", "bob"]))
    drain(functions)
    regulate(client, "SUPPRESS_ONLY", "ann")
    drain(functions)
    upload(csv_gz(["bob", "carl"]))  # ann is no longer listed: as suppressed, she stays as she is
    drain(functions)
    record = api.call("GET", "/v3/imports", key=key).body["imports"][0]
    assert (record["status"], record["qualified"], record["disqualified"], record["suppressed"]) == ("SUCCESS", 1, 0, 0)
    assert state("ann") == {"vip": "qualified"}
    upload(csv_gz(["ann", "carl"]))
    drain(functions)
    record = api.call("GET", "/v3/imports", key=key).body["imports"][0]
    assert (record["qualified"], record["disqualified"], record["suppressed"]) == (0, 1, 1)
    assert state("bob") == {"vip": "disqualified"} and state("ann") == {"vip": "qualified"}


def test_a_delete_removes_the_subject_from_snapshots_and_uploads(api, demo, client, functions, vip):
    upload(csv_gz(["ann", "bob"]))
    drain(functions)
    regulate(client, "DELETE_INTERNAL", "ann")
    drain(functions)
    held = [
        data
        for bucket, prefix in ((Bucket.DATA, "imports/"), (Bucket.DATA, "changes/"), (Bucket.IMPORTS, "demo/"))
        for stored in stores().objects.stored_objects(bucket, prefix)
        for data in [stores().objects.read_object(bucket, stored.key)[0]]
    ]
    assert held, "the snapshot is kept"
    assert not any(b"ann" in (gzip.decompress(d) if d[:2] == b"\x1f\x8b" else d) for d in held)
    assert memberships.audience_size("demo", "vip") == 1 and state("ann") == {}


def members_listed(audience_key: str) -> list[list[str]]:
    """The members of each member list of the audience (its snapshots, and joined and left lists kept)."""
    return [
        sorted(pl.read_parquet(io.BytesIO(stores().objects.read_object(Bucket.DATA, stored.key)[0]))[MEMBER])
        for stored in stores().objects.stored_objects(Bucket.DATA, "imports/tenant=demo/")
        if f"/{audience_key}/" in stored.key and stored.key.endswith(".parquet")
    ]


def test_a_delete_takes_the_subject_out_of_the_lists_of_its_identifier_field_only(api, demo, client, functions, vip):
    api.call("PUT", "/v3/segments/churn", segment("churn"), key=demo["DEMO_PRIVATE_KEY"])
    upload(csv_gz(["ann", "bob"]))
    emails = csv_gz(["ann", "carl"], audience="churn", header=HEADER.replace("fs_user_id", "email"))
    upload(emails, key="demo/audience-diffs/churn.csv.gz")  # "ann" here is an email, another person's
    drain(functions)
    regulate(client, "DELETE_INTERNAL", "ann")  # the user id ann
    drain(functions)
    assert members_listed("vip_users") == [["bob"]]
    assert members_listed("churn") == [["ann", "carl"]]


def test_a_text_snapshot_of_an_earlier_release_is_rewritten_not_erased(api, demo, client, functions, vip):
    key = "imports/tenant=demo/snapshots/vip_users/20261101T000000000Z-0123456789ab.txt.gz"
    stores().objects.put_data(key, gzip.compress(b"ann\nbob\n"))  # the next import diffs with it: it must stay
    regulate(client, "DELETE_INTERNAL", "ann")
    drain(functions)
    assert gzip.decompress(stores().objects.get_data(key)) == b"bob\n"


def test_a_job_without_the_time_a_large_member_list_takes_checkpoints_before_it(client, functions, vip, monkeypatch):
    from audiences.privacy import jobs, member_lists

    upload(csv_gz(["ann", "bob"]))
    drain(functions)
    monkeypatch.setattr(member_lists, "BYTES_PER_SECOND", 1)  # the snapshot's few hundred bytes: minutes
    regulate_id = regulate(client, "DELETE_INTERNAL", "ann")
    stores().queues.receive("privacy")  # the job is run by hand below
    assert jobs.run("demo", regulate_id, seconds_left=lambda: 200) == 0  # time for anything but the list
    request = stores().privacy.get_request("demo", regulate_id)
    assert (request.step, request.position) == ("copies", "1|")  # the list is the first object under imports/
    assert members_listed("vip_users") == [["ann", "bob"]]
    assert jobs.run("demo", regulate_id, seconds_left=lambda: 900) is None  # a fresh invocation starts it
    assert members_listed("vip_users") == [["bob"]]


def test_a_regulation_deleted_while_initialized_is_cancelled_and_gone(client, functions, members):
    regulate_id = regulate(client, "DELETE_ONLY", "ann")
    status, _, answer = client.call("DELETE", f"/regulations/{regulate_id}")
    assert (status, answer["data"]) == (200, {"status": "SUCCESS"})
    assert client.call("GET", f"/regulations/{regulate_id}")[0] == 404
    drain(functions)
    assert state("ann") == {"vip": "qualified", "churn": "qualified"}
    started = regulate(client, "DELETE_ONLY", "bob")
    drain(functions)
    status, _, answer = client.call("DELETE", f"/regulations/{started}")
    assert status == 422 and "INITIALIZED" in answer["errors"][0]["message"]


def test_the_list_pages_oldest_first_and_filters_by_type(client, functions, members):
    ids = [regulate(client, kind, f"user{n}") for n, kind in enumerate(["DELETE_ONLY", "SUPPRESS_ONLY", "DELETE_ONLY"])]
    seen, cursor = [], None
    while True:
        query = "pagination%5Bcount%5D=2" + (f"&pagination%5Bcursor%5D={cursor}" if cursor else "")
        status, _, answer = client.call("GET", f"/regulations?{query}")
        assert status == 200, answer
        seen += [entry["id"] for entry in answer["data"]["regulations"]]
        assert answer["data"]["pagination"]["totalEntries"] == 3
        if not (cursor := answer["data"]["pagination"].get("next")):
            break
    assert seen == ids
    status, _, answer = client.call("GET", "/regulations?regulationTypes%5B0%5D=SUPPRESS_ONLY")
    assert [entry["id"] for entry in answer["data"]["regulations"]] == [ids[1]]
    assert answer["data"]["regulations"][0]["subjects"] == ["user1"]


def test_bad_regulations_are_refused_field_by_field_and_nothing_is_recorded(client):
    body = {"regulationType": "FORGET", "subjectType": "USER_ID", "subjectIds": ["", "ok"], "extra": 1}
    status, _, answer = client.call("POST", "/regulations", body)
    assert status == 422
    assert {e["field"] for e in answer["errors"]} == {"regulationType", "subjectIds[0]", "extra"}
    assert stores().privacy.count_requests("demo") == 0


def test_object_ids_are_not_supported_at_once(client, functions):
    status, _, answer = client.call(
        "POST", "/regulations", {"regulationType": "DELETE_ONLY", "subjectType": "OBJECT_ID", "subjectIds": ["o1"]}
    )
    assert status == 200
    assert regulation(client, answer["data"]["regulateId"])["overallStatus"] == "NOT_SUPPORTED"


def test_another_workspaces_regulation_is_not_found_exactly_like_an_unknown_one(api, client, functions, members):
    from audiences import auth
    from audiences.domain import Confidence, Principal, Scope, Tenant
    from tests.segment_client import Segment

    regulate_id = regulate(client, "DELETE_ONLY", "ann")
    stores().tenants.create_tenant(Tenant.of("other", fs_user_id=Confidence.HIGH))
    other = Segment(api, auth.issue_key(Principal("other", Scope.PRIVATE)))
    theirs = other.call("GET", f"/regulations/{regulate_id}")
    unknown = other.call("GET", "/regulations/01a2440c-9480-70d2-8de0-1838e31aa03a")
    assert theirs[0] == unknown[0] == 404
    assert theirs[2]["errors"][0]["type"] == unknown[2]["errors"][0]["type"] == "not-found"
    assert other.call("DELETE", f"/regulations/{regulate_id}")[0] == 404
    assert other.call("GET", "/regulations")[2]["data"]["regulations"] == []


def test_regulations_are_rate_limited_apart_from_audiences_with_segments_headers(client, setting):
    setting("SEGMENT_RATE_LIMITS", "create=1")
    body = {"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": ["ann"]}
    first = client.call("POST", "/regulations", body)
    assert first[0] == 200 and first[1]["X-Regulation-RateLimit-Remaining"] == "109999"
    refused = client.call("POST", "/regulations", body)
    assert refused[0] == 429 and refused[1]["Retry-After"] and refused[2]["errors"][0]["type"] == "RequestError"
    assert client.audiences("POST", body={"name": "Still allowed"})[0] == 200  # the audiences API counts apart


def test_a_job_waits_for_the_tenants_imports_in_flight_then_goes_on(client, functions, members):
    from audiences.privacy import jobs

    regulate_id = regulate(client, "DELETE_ONLY", "ann")
    stores().queues.receive("privacy")  # the job is run by hand below
    stores().imports.acquire_lease("demo", "vip_users", "an import", 600)
    assert jobs.run("demo", regulate_id, seconds_left=lambda: 900) == jobs.LEASE_WAIT_SECONDS
    assert regulation(client, regulate_id)["overallStatus"] == "RUNNING"
    assert state("ann") == {"vip": "qualified", "churn": "qualified"}  # nothing erased while it waits
    stores().imports.release_lease("demo", "vip_users", "an import")
    assert jobs.run("demo", regulate_id, seconds_left=lambda: 900) is None
    assert regulation(client, regulate_id)["overallStatus"] == "FINISHED" and state("ann") == {}


def test_a_job_out_of_time_checkpoints_and_the_next_message_goes_on_from_there(client, functions, members, monkeypatch):
    from audiences.privacy import jobs

    monkeypatch.setattr(jobs, "ERASE_BATCH", 1)  # a batch a subject
    regulate_id = regulate(client, "DELETE_ONLY", "ann", "bob", "carl")
    stores().queues.receive("privacy")
    left = iter([900, 0])  # asked before each subject: time runs out after the first
    assert jobs.run("demo", regulate_id, seconds_left=lambda: next(left)) == 0
    request = stores().privacy.get_request("demo", regulate_id)
    assert (request.step, request.position) == ("memberships", "1")
    assert state("ann") == {} and state("bob") == {"vip": "qualified", "churn": "disqualified"}
    assert jobs.run("demo", regulate_id, seconds_left=lambda: 900) is None
    assert state("ann") == state("bob") == state("carl") == {}
    assert memberships.audience_size("demo", "vip") == 0
