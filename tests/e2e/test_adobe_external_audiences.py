"""Adobe Experience Platform's external audiences over HTTP on the local stack, as AEP's documented curl
calls send them: the four headers, create, poll the operation, read, patch, delete."""

from __future__ import annotations

import gzip
import time

import requests

from tests.conftest import PLAN
from tests.e2e.conftest import aws, new_key

BY_EMAIL = "query($email: String) {customer(email: $email) {audiences {edges {node {name}}}}}"


def test_an_adobe_client_creates_polls_patches_and_deletes(stack, admin):
    assert admin("tenants", "create", "aep", "--identifier", "email=high").returncode == 0
    token = new_key(admin, "aep", "private")
    ais = f"{stack.api_url}/data/core/ais"
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": f"Bearer {token}",
            "x-api-key": "acme_client",
            "x-gw-ims-org-id": "aep@AdobeOrg",
            "x-sandbox-name": "prod",
            "Content-Type": "application/json",
        }
    )
    body = {
        "name": "Loyal buyers",
        "customAudienceId": "loyal",
        "fields": [{"name": "email", "type": "string", "identityNs": "Email"}, {"name": "tier", "type": "string"}],
        "sourceSpec": {"params": {"path": "loyal/members.csv", "type": "file"}},
        "ttlInDays": "30",
        "audienceType": "people",
        "originName": "CUSTOM_UPLOAD",
    }
    created = session.post(f"{ais}/external-audience/", json=body, timeout=10)
    assert created.status_code == 202, created.text
    operation_id = created.json()["operationId"]

    deadline = time.monotonic() + 10
    while (operation := session.get(f"{ais}/external-audiences/operations/{operation_id}", timeout=10).json())[
        "status"
    ] == "PROCESSING" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert operation["status"] == "SUCCESS"
    audience_url = f"{ais}/external-audience/{operation['audienceId']}"

    events = [
        {
            "type": "passthrough",
            "action": "qualify",
            "identifiers": {"email": f"u{n}@example.com"},
            "data": {"audience_id": "loyal", "ts": time.time() - 60},  # within the 30-day TTL
        }
        for n in range(3)
    ]
    public = new_key(admin, "aep", "public")
    assert requests.post(f"{stack.api_url}/v3/events", json=events, headers={"x-api-key": public}, timeout=10).ok
    audience = session.get(audience_url, timeout=10).json()
    assert (audience["audienceName"], audience["key"], audience["size"], audience["ttlInDays"]) == (
        "Loyal buyers",
        "loyal",
        3,
        30,
    )

    patched = session.patch(audience_url, json={"description": "Bought twice", "ttlInDays": 60}, timeout=10)
    assert patched.status_code == 200 and patched.json()["ttlInDays"] == 60

    other_sandbox = session.get(audience_url, headers={"x-sandbox-name": "dev"}, timeout=10)
    assert other_sandbox.status_code == 404 and other_sandbox.json()["report"]["errorCode"] == "100940-404"
    no_org = session.get(audience_url, headers={"x-gw-ims-org-id": ""}, timeout=10)
    assert no_org.status_code == 401 and "x-gw-ims-org-id" in no_org.json()["detail"]

    deleted = session.delete(f"{audience_url}/", timeout=10)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert session.get(audience_url, timeout=10).status_code == 404


def test_source_files_upload_by_presigned_url_and_by_boto3_and_start_nothing(stack, admin):
    assert admin("tenants", "create", "aepfiles", "--identifier", "email=high").returncode == 0
    token = new_key(admin, "aepfiles", "private")
    ais = f"{stack.api_url}/data/core/ais"
    headers = {
        "Authorization": f"Bearer {token}",
        "x-api-key": "acme_client",
        "x-gw-ims-org-id": "aepfiles",
        "x-sandbox-name": "prod",
    }
    body = {
        "name": "Weekly drop",
        "fields": [{"name": "email", "type": "string", "identityNs": "email"}],
        "sourceSpec": {"path": "weekly", "type": "folder"},
        "originName": "CUSTOM_UPLOAD",
    }
    audience_id = requests.post(f"{ais}/external-audience", json=body, headers=headers, timeout=10).json()[
        "operationId"
    ]
    target = requests.post(
        f"{ais}/external-audience/{audience_id}/upload-url", json={"fileName": "a.csv"}, headers=headers, timeout=10
    ).json()
    assert requests.put(target["url"], data=b"email\nu1@example.com\n", timeout=10).status_code == 200
    s3 = aws(stack, "s3")
    bucket = PLAN.names["ImportsBucket"]
    s3.put_object(Bucket=bucket, Key=target["key"].replace("a.csv", "b.csv"), Body=b"email\nu2@example.com\n")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="aepfiles/sources/")["Contents"]]
    assert keys == ["aepfiles/sources/adobe/prod/weekly/a.csv", "aepfiles/sources/adobe/prod/weekly/b.csv"]
    time.sleep(2)  # the bucket's notifications have been polled: neither upload became an import
    activity = requests.get(f"{stack.api_url}/v3/imports", headers={"x-api-key": token}, timeout=10).json()
    assert activity["imports"] == []


def test_runs_on_the_local_stack_apply_files_fail_whole_and_list(stack, admin):
    assert admin("tenants", "create", "aepruns", "--identifier", "email=high").returncode == 0
    token = new_key(admin, "aepruns", "private")
    public = new_key(admin, "aepruns", "public")
    ais = f"{stack.api_url}/data/core/ais"
    session = requests.Session()
    session.headers.update(
        {"Authorization": f"Bearer {token}", "x-api-key": "c", "x-gw-ims-org-id": "aepruns", "x-sandbox-name": "prod"}
    )
    body = {
        "name": "Runs",
        "customAudienceId": "runs",
        "fields": [{"name": "email", "type": "string", "identityNs": "email"}, {"name": "n", "type": "integer"}],
        "sourceSpec": {"path": "drop", "type": "folder"},
        "originName": "CUSTOM_UPLOAD",
    }
    audience_id = session.post(f"{ais}/external-audience", json=body, timeout=10).json()["operationId"]
    audience_url = f"{ais}/external-audience/{audience_id}"

    def upload(name: str, text: str) -> None:
        target = session.post(f"{audience_url}/upload-url", json={"fileName": name}, timeout=10).json()
        assert requests.put(target["url"], data=text.encode(), timeout=10).status_code == 200

    def run_to_the_end(start: int) -> dict:
        started = session.post(f"{audience_url}/runs", json={"dataFilterStartTime": start}, timeout=10)
        assert started.status_code == 200, started.text
        deadline = time.monotonic() + 20
        while (got := session.get(f"{audience_url}/runs/{started.json()['runId']}", timeout=10).json())[
            "status"
        ] == "PROCESSING" and time.monotonic() < deadline:
            time.sleep(0.2)
        return got

    def is_member(email: str) -> bool:
        query = {"query": BY_EMAIL, "variables": {"email": email}}
        reply = requests.post(f"{stack.api_url}/v3/graphql", json=query, headers={"x-api-key": public}, timeout=10)
        customer = (reply.json().get("data") or {}).get("customer")
        return bool(customer and customer["audiences"]["edges"])

    start = int(time.time())
    upload("1.csv", "email,n\na@x.com,1\nb@x.com,\n")
    aws(stack, "s3").put_object(
        Bucket=PLAN.names["ImportsBucket"],
        Key="aepruns/sources/adobe/prod/drop/2.csv.gz",
        Body=gzip.compress(b"n,email\r\n2,c@x.com\r\n"),
    )
    first = run_to_the_end(start)
    assert (first["status"], first["counts"]["qualified"]) == ("SUCCESS", 3), first
    assert all(is_member(email) for email in ("a@x.com", "b@x.com", "c@x.com"))

    time.sleep(1.1)  # S3 keeps whole seconds: the next files are uploaded a second later
    second_start = int(time.time())
    upload("3.csv", "email,n\na@x.com,1\nd@x.com,2\n")
    upload("4.csv", "email,n\ne@x.com,two\n")
    failed = run_to_the_end(second_start)
    assert failed["status"] == "FAILED"
    assert failed["errors"] == [{"file": "4.csv", "line": 2, "reason": "column `n` must be a whole number (32-bit)"}]
    assert not is_member("d@x.com") and is_member("c@x.com")  # nothing of the failed run was applied

    upload("4.csv", "email,n\ne@x.com,2\n")  # fixed, then run again over the same window
    second = run_to_the_end(second_start)
    assert (second["status"], second["differentialIngestion"]) == ("SUCCESS", True)
    assert second["counts"] == {"rows": 3, "qualified": 2, "disqualified": 2, "unchanged": 1, "suppressed": 0}
    assert is_member("d@x.com") and not is_member("b@x.com")
    assert session.get(audience_url, timeout=10).json()["size"] == 3

    listed = session.get(f"{audience_url}/runs", params={"limit": 2, "property": "status=SUCCESS"}, timeout=10).json()
    assert [run["runId"] for run in listed["runs"]] == [second["runId"], first["runId"]]
    assert listed["_page"] == {"limit": 2, "count": 2, "totalCount": 2}


def test_expired_members_leave_answers_at_once_and_sizes_at_the_local_sweep(stack, admin):
    assert admin("tenants", "create", "aepttl", "--identifier", "email=high").returncode == 0
    token, public = new_key(admin, "aepttl", "private"), new_key(admin, "aepttl", "public")
    headers = {"Authorization": f"Bearer {token}", "x-api-key": "c", "x-gw-ims-org-id": "aepttl", "x-sandbox-name": "p"}
    body = {
        "name": "Short lived",
        "customAudienceId": "short",
        "fields": [{"name": "email", "type": "string", "identityNs": "email"}],
        "sourceSpec": {"path": "short.csv", "type": "file"},
        "ttlInDays": 1,
        "originName": "CUSTOM_UPLOAD",
    }
    ais = f"{stack.api_url}/data/core/ais"
    audience_id = requests.post(f"{ais}/external-audience", json=body, headers=headers, timeout=10).json()[
        "operationId"
    ]
    now = time.time()
    events = [
        {
            "type": "passthrough",
            "action": "qualify",
            "identifiers": {"email": email},
            "data": {"audience_id": "short", "ts": ts},
        }
        for email, ts in (("old@x.com", now - 2 * 86_400), ("new@x.com", now))
    ]
    assert requests.post(f"{stack.api_url}/v3/events", json=events, headers={"x-api-key": public}, timeout=10).ok

    def answered(email: str) -> bool:
        query = {"query": BY_EMAIL, "variables": {"email": email}}
        reply = requests.post(f"{stack.api_url}/v3/graphql", json=query, headers={"x-api-key": public}, timeout=10)
        customer = (reply.json().get("data") or {}).get("customer")
        return bool(customer and customer["audiences"]["edges"])

    assert not answered("old@x.com") and answered("new@x.com")
    deadline = time.monotonic() + 15
    while (
        size := requests.get(f"{ais}/external-audience/{audience_id}", headers=headers, timeout=10).json()["size"]
    ) != 1:
        assert time.monotonic() < deadline, f"the local sweep never expired the old member (size {size})"
        time.sleep(0.3)


def test_run_rules_on_the_local_stack_empty_window_rejoining_and_guardrails(stack, admin):
    assert admin("tenants", "create", "aeprules", "--identifier", "email=high").returncode == 0
    token = new_key(admin, "aeprules", "private")
    ais = f"{stack.api_url}/data/core/ais"
    session = requests.Session()
    session.headers.update(
        {"Authorization": f"Bearer {token}", "x-api-key": "c", "x-gw-ims-org-id": "aeprules", "x-sandbox-name": "prod"}
    )
    body = {
        "name": "Rules",
        "fields": [{"name": "email", "type": "string", "identityNs": "email"}],
        "sourceSpec": {"path": "rules/members.csv", "type": "file"},
        "originName": "CUSTOM_UPLOAD",
    }
    audience_url = (
        f"{ais}/external-audience/"
        + session.post(f"{ais}/external-audience", json=body, timeout=10).json()["operationId"]
    )

    def start(**window) -> requests.Response:
        return session.post(f"{audience_url}/runs", json={"dataFilterStartTime": 0} | window, timeout=10)

    def ended(run_id: str) -> dict:
        deadline = time.monotonic() + 20
        while (got := session.get(f"{audience_url}/runs/{run_id}", timeout=10).json())["status"] == "PROCESSING":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        return got

    def members(text: str) -> None:
        target = session.post(f"{audience_url}/upload-url", json={}, timeout=10).json()
        assert requests.put(target["url"], data=f"email\n{text}".encode(), timeout=10).status_code == 200

    empty = start(dataFilterStartTime=1, dataFilterEndTime=2)  # a window no file is in
    assert empty.status_code == 200
    assert ended(empty.json()["runId"])["message"].startswith("no file was uploaded to adobe/prod/rules/members.csv")

    members("a@x.com\nb@x.com\n")
    # One run at a time is tested in tests/integration/test_adobe_runs.py: here the local stack may
    # finish a run before the next request arrives, so a second POST cannot be made to overlap.
    assert ended(start().json()["runId"])["counts"]["qualified"] == 2
    members("a@x.com\n")  # b leaves
    assert ended(start().json()["runId"])["counts"]["disqualified"] == 1
    members("a@x.com\nb@x.com\n")  # b joins again
    assert ended(start().json()["runId"])["counts"] == {
        "rows": 2,
        "qualified": 1,
        "disqualified": 0,
        "unchanged": 1,
        "suppressed": 0,
    }

    for _ in range(6):  # 4 runs so far today; the guardrail is 10 per audience
        assert ended(start().json()["runId"])["status"] == "SUCCESS"
    refused = start()
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.json()["title"] == "TOO_MANY_REQUESTS"
    oldest_first = session.get(f"{audience_url}/runs", params={"sortBy": "createdAt", "limit": 1}, timeout=10).json()
    assert oldest_first["runs"][0]["runId"] == empty.json()["runId"] and oldest_first["_page"]["totalCount"] == 10
