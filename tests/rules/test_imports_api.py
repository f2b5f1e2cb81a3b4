"""/v3/imports: the activity log and upload URLs, through the management handler on moto."""

from __future__ import annotations

import pytest

from audiences import auth
from audiences.domain import Confidence, Principal, Scope, Tenant
from audiences.wiring import stores
from tests.integration.helpers import segment


def test_newest_first_with_counts(api, history):
    body = api.call("GET", "/v3/imports", key=history).body
    assert body["next_cursor"] is None
    assert [(i["audience"], i["status"]) for i in body["imports"]] == [
        ("churn", "SUCCESS"),
        ("vip_users", "SUCCESS"),
        ("vip_users", "FAILED"),
        ("vip_users", "SUCCESS"),
    ]
    latest_vip = body["imports"][1]
    assert (latest_vip["rows"], latest_vip["qualified"], latest_vip["disqualified"], latest_vip["unchanged"]) == (
        2,
        1,
        0,
        1,
    )
    assert latest_vip["key"] == "demo/audience-diffs/vip_users.csv.gz"
    assert latest_vip["duration_ms"] >= 0 and latest_vip["finished_at"] >= latest_vip["started_at"]
    assert "progress" not in latest_vip
    failed = body["imports"][2]
    assert failed["message"] == "the file is not gzip-compressed: upload a .csv.gz made with gzip"


def test_filters_and_cursor_pages(api, history):
    only_vip = api.call("GET", "/v3/imports?audience=vip_users&status=success", key=history).body["imports"]
    assert [i["status"] for i in only_vip] == ["SUCCESS", "SUCCESS"]
    seen, cursor = [], None
    while True:
        path = "/v3/imports?limit=1" + (f"&cursor={cursor}" if cursor else "")
        body = api.call("GET", path, key=history).body
        seen += [i["import_id"] for i in body["imports"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    everything = [i["import_id"] for i in api.call("GET", "/v3/imports", key=history).body["imports"]]
    assert seen == everything and len(seen) == 4


def test_one_import_by_id(api, history):
    first = api.call("GET", "/v3/imports?limit=1", key=history).body["imports"][0]
    assert api.call("GET", f"/v3/imports/{first['import_id']}", key=history).body == first
    missing = api.call("GET", "/v3/imports/20990101T000000000Z-000000000000", key=history)
    assert (missing.status, missing.body["code"]) == (404, 404)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=DONE", "status must be one of PROCESSING, SUCCESS, FAILED, SKIPPED, got 'DONE'"),
        ("limit=0", "limit must be 1 to 100, got '0'"),
        ("limit=x", "limit must be 1 to 100, got 'x'"),
        ("audience=Bad!", "segment id 'Bad!' is invalid"),
        ("cursor=bm9wZQ", "cursor is not one this API returned"),
        ("colour=red", "unknown parameter(s) colour"),
    ],
)
def test_bad_list_parameters_say_what_is_wrong(api, demo, query, message):
    reply = api.call("GET", f"/v3/imports?{query}", key=demo["DEMO_PRIVATE_KEY"])
    assert reply.status == 400 and message in reply.body["message"]


@pytest.mark.parametrize(
    ("request_body", "status", "message"),
    [
        ({"audience": "nope"}, 404, "segment 'nope' does not exist"),
        ({"segment": "vip_users"}, 400, 'the body must be {"audience": "<segment id>"}'),
        ({"audience": "../x"}, 400, "segment id '../x' is invalid"),
        ({"audience": "vip_users", "parts": 0}, 400, "parts must be a whole number from 1 to 10000, got 0"),
        ({"audience": "vip_users", "parts": 10_001}, 400, "parts must be a whole number from 1 to 10000"),
        ({"audience": "vip_users", "parts": True}, 400, "parts must be a whole number from 1 to 10000, got True"),
        ({"audience": "nope", "parts": 2}, 404, "segment 'nope' does not exist"),
    ],
)
def test_upload_url_refuses_what_cannot_be_imported(api, demo, request_body, status, message):
    api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=demo["DEMO_PRIVATE_KEY"])
    reply = api.call("POST", "/v3/imports/upload-url", request_body, key=demo["DEMO_PRIVATE_KEY"])
    assert reply.status == status and message in reply.body["message"]


@pytest.mark.parametrize(
    ("request_body", "status", "message"),
    [
        ({"audience": "vip_users", "parts": []}, 400, "the body must be {"),
        ({"audience": "vip_users", "upload_id": "u", "parts": []}, 400, "parts must list 1 to 10000 parts"),
        (
            {"audience": "vip_users", "upload_id": "u", "parts": [{"part_number": "1", "etag": "e"}]},
            400,
            'parts[0] must be {"part_number": <1 to 10000>, "etag": "<ETag>"}',
        ),
        (
            {"audience": "vip_users", "upload_id": "no-such", "parts": [{"part_number": 1, "etag": '"e"'}]},
            404,
            "there is no multipart upload 'no-such' of audience 'vip_users'",
        ),
        (
            {"audience": "nope", "upload_id": "u", "parts": [{"part_number": 1, "etag": '"e"'}]},
            404,
            "segment 'nope' does not exist",
        ),
    ],
)
def test_completing_a_multipart_upload_refuses_what_cannot_complete(api, demo, request_body, status, message):
    api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=demo["DEMO_PRIVATE_KEY"])
    reply = api.call("POST", "/v3/imports/upload-url/complete", request_body, key=demo["DEMO_PRIVATE_KEY"])
    assert reply.status == status and message in reply.body["message"], reply.body


def test_completing_another_tenants_upload_is_a_404(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=key)
    upload_id = api.call("POST", "/v3/imports/upload-url", {"audience": "vip_users", "parts": 1}, key=key).body[
        "upload_id"
    ]
    stores().tenants.create_tenant(Tenant.of("other", fs_user_id=Confidence.HIGH))
    other = auth.issue_key(Principal("other", Scope.PRIVATE))
    api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=other)
    parts = [{"part_number": 1, "etag": '"e"'}]
    reply = api.call(
        "POST",
        "/v3/imports/upload-url/complete",
        {"audience": "vip_users", "upload_id": upload_id, "parts": parts},
        key=other,
    )
    assert reply.status == 404 and "there is no multipart upload" in reply.body["message"]


def test_the_activity_log_is_private_and_per_tenant(api, history, demo):
    assert api.call("GET", "/v3/imports", key=demo["DEMO_PUBLIC_KEY"]).status == 403
    stores().tenants.create_tenant(Tenant.of("other", fs_user_id=Confidence.HIGH))
    other = auth.issue_key(Principal("other", Scope.PRIVATE))
    assert api.call("GET", "/v3/imports", key=other).body == {"imports": [], "next_cursor": None}
    some_id = api.call("GET", "/v3/imports?limit=1", key=history).body["imports"][0]["import_id"]
    assert api.call("GET", f"/v3/imports/{some_id}", key=other).status == 404
    demo_cursor = api.call("GET", "/v3/imports?limit=1", key=history).body["next_cursor"]
    assert api.call("GET", f"/v3/imports?cursor={demo_cursor}", key=other).status == 400
