"""Adobe Experience Platform's external audiences over HTTP on the local stack, as AEP's documented curl
calls send them: the four headers, create, poll the operation, read, patch, delete."""

from __future__ import annotations

import time

import requests

from tests.conftest import PLAN
from tests.e2e.conftest import aws, new_key

T = 1_748_851_070


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
            "data": {"audience_id": "loyal", "ts": T},
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
