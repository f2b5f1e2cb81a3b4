"""What a privacy request keeps at rest, on moto: nothing a client sent that names a person is in clear in any
table (the request records live 60 to 90 days, beside backups), whatever API it came through; every answer
that gives it back still does."""

from __future__ import annotations

import json

import boto3

from local.gateway import respond
from local.provision import REGION
from tests.conftest import PLAN
from tests.imports_helpers import drain
from tests.segment_client import Segment


def tables_held() -> bytes:
    """Every item of every table, as one text."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    held = []
    for logical_id in PLAN.of_type("AWS::DynamoDB::Table"):
        for page in dynamodb.get_paginator("scan").paginate(TableName=PLAN.names[logical_id]):
            held += [repr(item) for item in page["Items"]]
    return "\n".join(held).encode()


def in_clear(*values: str) -> list[str]:
    held = tables_held()
    return [value for value in values if value.encode() in held]


def adobe_privacy(api, demo, method: str, path: str, body=None):
    headers = {
        "authorization": f"Bearer {demo['DEMO_PRIVATE_KEY']}",
        "x-api-key": "acme",
        "x-gw-ims-org-id": "demo@AdobeOrg",
        "content-type": "application/json",
    }
    data = b"" if body is None else json.dumps(body).encode()
    status, _, payload = respond(api.router, method, f"/data/core/privacy{path}", list(headers.items()), data)
    return status, json.loads(payload)


USER_KEY, EMAIL, ECID = "ann-key-5c1d9e", "ann-5c1d9e@x.com", "ecid-5c1d9e"


def test_an_adobe_job_keeps_the_user_key_and_ids_sealed_and_answers_them_as_sent(api, demo, functions):
    user_ids = [
        {"namespace": "email", "value": EMAIL, "type": "standard"},
        {"namespace": "ECID", "value": ECID, "type": "standard"},  # not a namespace held here: named back all the same
    ]
    body = {
        "companyContexts": [{"namespace": "imsOrgID", "value": "demo@AdobeOrg"}],
        "users": [{"key": USER_KEY, "action": ["access", "delete"], "userIDs": user_ids}],
        "include": ["profileService"],
        "regulation": "gdpr",
    }
    status, created = adobe_privacy(api, demo, "POST", "/jobs", body)
    assert status == 200, created
    assert in_clear(USER_KEY, EMAIL, ECID) == []
    drain(functions)
    assert in_clear(USER_KEY, EMAIL, ECID) == []

    status, listed = adobe_privacy(api, demo, "GET", "/jobs?regulation=gdpr")
    assert status == 200 and {job["jobId"] for job in listed["jobs"]} == {job["jobId"] for job in created["jobs"]}
    for listed_job in listed["jobs"]:
        status, job = adobe_privacy(api, demo, "GET", f"/jobs/{listed_job['jobId']}")
        signed_anew = "downloadURL"  # an access job's link is signed at each answer
        assert status == 200 and job.keys() == listed_job.keys()
        assert {k: v for k, v in job.items() if k != signed_anew} == {
            k: v for k, v in listed_job.items() if k != signed_anew
        }
        assert job["userKey"] == USER_KEY
        assert [(u["namespace"], u["value"]) for u in job["userIds"]] == [("email", EMAIL), ("ECID", ECID)]


def test_a_segment_regulation_keeps_its_subjects_sealed(api, demo, functions):
    client = Segment(api, demo["DEMO_PRIVATE_KEY"])
    body = {"regulationType": "SUPPRESS_WITH_DELETE", "subjectType": "USER_ID", "subjectIds": ["seg-5c1d9e"]}
    status, _, answer = client.call("POST", "/regulations", body)
    assert status == 200, answer
    drain(functions)
    assert in_clear("seg-5c1d9e") == []
    _, _, listed = client.call("GET", "/regulations")
    assert listed["data"]["regulations"][0]["subjects"] == ["seg-5c1d9e"]


def test_an_odp_request_keeps_its_subject_sealed_and_its_requester_for_audit(api, demo, functions):
    item = {"identifier_field_name": "email", "identifier_value": "odp-5c1d9e@x.com", "requester": "dpo-5c1d9e@x.com"}
    for path in ("/v3/compliance/gdpr/delete", "/v3/compliance/ccpa/optout"):
        reply = api.call("POST", path, [item], key=demo["DEMO_PRIVATE_KEY"])
        assert reply.status == 202, reply.body
    drain(functions)
    assert in_clear("odp-5c1d9e@x.com") == []
