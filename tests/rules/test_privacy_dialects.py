"""ODP's Compliance API and Adobe's Privacy Service jobs over the same privacy requests, on the in-memory
stores: shapes, statuses, the access export, and refusals in each vendor's words."""

from __future__ import annotations

import io
import json
import time
import zipfile
from urllib.parse import unquote, urlparse

from audiences.ports.objects import Bucket
from audiences.wiring import stores
from local.gateway import respond
from tests.imports_helpers import drain
from tests.integration.helpers import event

ITEM = {"identifier_field_name": "email", "identifier_value": "ann@x.com", "requester": "dpo@x.com"}


def compliance(api, demo, method: str, path: str, body=None, key: str = "DEMO_PRIVATE_KEY"):
    return api.call(method, f"/v3/compliance{path}", body, key=demo[key])


def test_an_odp_delete_answers_one_id_per_item_and_its_status_completes(api, demo, functions):
    now = time.time() - 60
    api.call("POST", "/v3/events", [event("qualify", "ann@x.com", "vip", now, "email")], key=demo["DEMO_PUBLIC_KEY"])
    reply = compliance(api, demo, "POST", "/gdpr/delete", [ITEM, ITEM | {"identifier_value": "bob@x.com"}])
    assert reply.status == 202 and len(reply.body["request_ids"]) == 2
    first = reply.body["request_ids"][0]
    assert compliance(api, demo, "GET", f"/gdpr/status/{first}").body == "IN_PROGRESS"
    drain(functions)
    assert compliance(api, demo, "GET", f"/gdpr/status/{first}").body == "COMPLETED"
    assert compliance(api, demo, "GET", f"/ccpa/status/{first}").status == 404  # another framework's id
    reply = api.call(
        "POST", "/v3/events", [event("qualify", "ann@x.com", "vip", time.time())], key=demo["DEMO_PUBLIC_KEY"]
    )
    assert reply.status == 202
    assert stores().memberships.user_memberships("demo", _user("ann@x.com")) == {}  # suppressed for 30 days


def _user(value: str):
    from audiences.domain import UserRef

    return UserRef("email", value)


def test_an_odp_opt_out_is_recorded_and_completed_at_once(api, demo):
    reply = compliance(api, demo, "POST", "/ccpa/optout", [ITEM])
    assert reply.status == 202
    assert compliance(api, demo, "GET", f"/ccpa/status/{reply.body['request_ids'][0]}").body == "COMPLETED"
    assert compliance(api, demo, "POST", "/gdpr/optout", [ITEM]).status == 404


def test_odp_refusals_name_every_invalid_item_and_record_nothing(api, demo):
    bad = [ITEM | {"identifier_field_name": "phone"}, ITEM | {"requester": "nobody"}, {"identifier_value": "x"}]
    reply = compliance(api, demo, "POST", "/gdpr/delete", bad)
    assert reply.status == 400 and reply.body["title"] == "Bad Request"
    fields = [invalid["field"] for invalid in reply.body["detail"]["invalids"]]
    assert fields == ["[0].identifier_field_name", "[1].requester", "[2]"]
    assert "email, fs_user_id, vuid" in reply.body["detail"]["invalids"][0]["reason"]
    assert compliance(api, demo, "POST", "/gdpr/delete", [ITEM], key="DEMO_PUBLIC_KEY").body == {"message": "Forbidden"}
    assert stores().privacy.count_requests("demo") == 0


def adobe_call(api, demo, method: str, path: str, body=None, org: str = "demo@AdobeOrg"):
    headers = {
        "authorization": f"Bearer {demo['DEMO_PRIVATE_KEY']}",
        "x-api-key": "acme",
        "x-gw-ims-org-id": org,
        "content-type": "application/json",
    }
    data = b"" if body is None else json.dumps(body).encode()
    status, _, payload = respond(api.router, method, f"/data/core/privacy{path}", list(headers.items()), data)
    return status, json.loads(payload) if payload else None


def jobs_body(*actions: str, include=("profileService",), value: str = "ann@x.com") -> dict:
    return {
        "companyContexts": [{"namespace": "imsOrgID", "value": "demo@AdobeOrg"}],
        "users": [
            {
                "key": "ann",
                "action": list(actions),
                "userIDs": [{"namespace": "Email", "value": value, "type": "standard"}],
            }
        ],
        "include": list(include),
        "regulation": "gdpr",
    }


def test_adobe_access_then_delete_jobs_export_what_is_held_and_then_erase_it(api, demo, functions):
    since = time.time() - 60
    api.call("POST", "/v3/events", [event("qualify", "ann@x.com", "vip", since, "email")], key=demo["DEMO_PUBLIC_KEY"])
    status, created = adobe_call(
        api, demo, "POST", "/jobs", jobs_body("access", include=("profileService", "Analytics"))
    )
    assert status == 200 and created["totalRecords"] == 1
    job_id = created["jobs"][0]["jobId"]
    assert adobe_call(api, demo, "GET", f"/jobs/{job_id}")[1]["status"] == "submitted"
    drain(functions)
    status, job = adobe_call(api, demo, "GET", f"/jobs/{job_id}")
    assert job["status"] == "complete" and job["userIds"][0]["namespace"] == "email"
    codes = {r["product"]: r["productStatusResponse"]["responseMsgCode"] for r in job["productResponses"]}
    assert codes == {"profileService": "PRVCY-6000-200", "Analytics": "PRVCY-6051-200"}
    key = unquote(urlparse(job["downloadURL"]).path).lstrip("/")
    with zipfile.ZipFile(io.BytesIO(stores().objects.read_object(Bucket.DATA, key)[0])) as export:
        held = json.loads(export.read("profileService.json"))
    assert held["subject"] == {"namespace": "email", "value": "ann@x.com"}
    assert [(m["key"], m["state"]) for m in held["memberships"]] == [("vip", "qualified")]
    assert held["storedCopies"]["events"] == 1 and held["suppressed"] is False

    status, created = adobe_call(api, demo, "POST", "/jobs/", jobs_body("delete"))
    drain(functions)
    job = adobe_call(api, demo, "GET", f"/jobs/{created['jobs'][0]['jobId']}")[1]
    assert job["status"] == "complete" and "downloadURL" not in job
    assert stores().memberships.user_memberships("demo", _user("ann@x.com")) == {}
    status, listed = adobe_call(api, demo, "GET", "/jobs?regulation=gdpr")
    assert status == 200 and listed["totalRecords"] == 2
    assert listed["jobs"][0]["action"] == "delete"  # newest first


def test_adobe_refusals_use_privacy_service_codes(api, demo):
    body = jobs_body("forget") | {"companyContexts": [{"namespace": "imsOrgID", "value": "other@AdobeOrg"}]}
    status, answer = adobe_call(api, demo, "POST", "/jobs", body)
    assert status == 400 and answer["report"]["errorCode"] == "PRVCY-1000-400"
    assert {d["field"] for d in answer["report"]["details"]} == {"companyContexts", "users[0].action"}
    assert adobe_call(api, demo, "GET", "/jobs")[1]["report"]["errorCode"] == "PRVCY-1000-400"  # regulation required
    assert adobe_call(api, demo, "GET", "/jobs/01a2440c-9480-70d2-8de0-1838e31aa03a")[0] == 404
    assert adobe_call(api, demo, "GET", "/jobs/x", org="other")[0] == 401
    assert stores().privacy.count_requests("demo") == 0


def test_an_unknown_namespace_completes_at_once_as_invalid(api, demo):
    body = jobs_body("delete")
    body["users"][0]["userIDs"] = [{"namespace": "ECID", "value": "123", "type": "standard"}]
    status, created = adobe_call(api, demo, "POST", "/jobs", body)
    assert status == 200
    job = adobe_call(api, demo, "GET", f"/jobs/{created['jobs'][0]['jobId']}")[1]
    assert job["status"] == "complete"
    assert job["productResponses"][0]["productStatusResponse"]["responseMsgCode"] == "PRVCY-6053-200"


def test_another_organizations_job_is_not_found_and_creates_are_limited_per_minute(api, demo):
    from audiences import auth
    from audiences.domain import Confidence, Principal, Scope, Tenant

    status, created = adobe_call(api, demo, "POST", "/jobs", jobs_body("access"))
    job_id = created["jobs"][0]["jobId"]
    stores().tenants.create_tenant(Tenant.of("other", email=Confidence.HIGH))
    other = {"DEMO_PRIVATE_KEY": auth.issue_key(Principal("other", Scope.PRIVATE))}
    status, answer = adobe_call(api, other, "GET", f"/jobs/{job_id}", org="other@AdobeOrg")
    assert (status, answer["report"]["errorCode"]) == (404, "100940-404")
    assert adobe_call(api, other, "GET", "/jobs?regulation=gdpr", org="other@AdobeOrg")[1]["totalRecords"] == 0
    for _ in range(59):  # 60 creates a minute, the first included
        assert adobe_call(api, demo, "POST", "/jobs", jobs_body("access"))[0] == 200
    headers = {
        "authorization": f"Bearer {demo['DEMO_PRIVATE_KEY']}",
        "x-api-key": "acme",
        "x-gw-ims-org-id": "demo@AdobeOrg",
        "content-type": "application/json",
    }
    status, answer_headers, payload = respond(
        api.router, "POST", "/data/core/privacy/jobs", list(headers.items()), json.dumps(jobs_body("access")).encode()
    )
    assert status == 400 and json.loads(payload)["report"]["errorCode"] == "PRVCY-1030-400"
    assert int(dict(answer_headers)["Retry-After"]) >= 0
    assert stores().privacy.count_requests("demo") == 60
