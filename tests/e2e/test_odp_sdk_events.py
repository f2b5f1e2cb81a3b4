"""The Optimizely Python SDK sends ODP events to the local stack exactly as it would to ODP."""

from __future__ import annotations

import gzip
import json
import time

import boto3

from local.provision import REGION
from tests.conftest import PLAN
from tests.e2e.odp_sdk import client

QUERY = "query($userId: String) {customer(fs_user_id: $userId) {audiences {edges {node {name state}}}}}"


def customer_audiences(stack, user: str) -> list[str] | None:
    reply = stack.call(
        "POST", "/v3/graphql", key=stack.public_key, json={"query": QUERY, "variables": {"userId": user}}
    )
    customer = reply.json()["data"]["customer"]
    return None if customer is None else [edge["node"]["name"] for edge in customer["audiences"]["edges"]]


def test_sdk_passthrough_events_become_memberships_visible_in_graphql(stack):
    segment = {"definition": {"external": {"external_audience_id": "sdk_vip"}}}
    assert stack.call("PUT", "/v3/segments/sdk_vip_users", key=stack.private_key, json=segment).status_code == 200
    sdk, log = client(stack.api_url, stack.public_key)
    now = int(time.time())
    sdk.create_user_context("sdk-user-1")  # sends ODP's fullstack "identified" event
    for user, action, ts in [
        ("sdk-user-1", "qualify", now - 10),
        ("sdk-user-2", "qualify", now - 10),
        ("sdk-user-2", "disqualify", now),
    ]:
        sdk.send_odp_event(
            type="passthrough",
            action=action,
            identifiers={"fs_user_id": user},
            data={"audience_id": "sdk_vip", "ts": ts, "campaign": "spring"},
        )
    sdk.close()  # flushes the SDK's event queue
    assert not [m for m in log.messages if m.startswith("ERROR")], log.messages
    assert customer_audiences(stack, "sdk-user-1") == ["sdk_vip_users"]
    assert customer_audiences(stack, "sdk-user-2") == []


def test_sdk_events_are_archived_with_the_fields_the_sdk_adds(stack):
    sdk, log = client(stack.api_url, stack.public_key)
    sdk.send_odp_event(
        type="passthrough", action="qualify", identifiers={"FS-USER-ID": "sdk-user-3"}, data={"audience_id": "x"}
    )
    sdk.close()
    assert not [m for m in log.messages if m.startswith("ERROR")], log.messages
    s3 = boto3.client(
        "s3", endpoint_url=stack.aws_url, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    bucket = PLAN.names["DataBucket"]
    archived = [
        json.loads(line)["event"]
        for item in s3.list_objects_v2(Bucket=bucket, Prefix="events/tenant=demo/").get("Contents", [])
        for line in gzip.decompress(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()).splitlines()
    ]
    # the stack is shared: the tenant's archive also holds other tests' events, of other APIs
    [sent] = [event for event in archived if event.get("identifiers") == {"fs_user_id": "sdk-user-3"}]
    assert sent["data"]["data_source"] == "python-sdk" and sent["data"]["idempotence_id"]
