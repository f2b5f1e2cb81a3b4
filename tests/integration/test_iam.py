"""The template's IAM policies hold locally: a function's call outside its policy fails as on AWS.

The whole suite runs under the policies (the root conftest fails any test during which a call
was denied); these tests take one permission away and show where the denial lands.
"""

from __future__ import annotations

from dataclasses import replace

import boto3
import pytest
from botocore.exceptions import ClientError

from audiences.stores.models import AudienceItem
from local import iam
from local.provision import REGION
from tests.conftest import PLAN
from tests.imports_helpers import imports_poller
from tests.integration.helpers import segment

MEMBERSHIPS = PLAN.intrinsics.resolve({"Fn::GetAtt": ["MembershipsTable", "Arn"]})


@pytest.fixture
def denials():
    """The denials a test provokes, taken so that the suite's check of no denial passes."""
    yield iam.ENFORCER.denied
    iam.ENFORCER.denied.clear()


def revoke(monkeypatch, function: str, action: str, resource: str) -> None:
    """Take `action` on `resource` out of every statement of `function`'s policy that names the resource."""
    policy = iam.ENFORCER.by_function[function]
    statements = tuple(
        replace(s, actions=tuple(a for a in s.actions if a != action)) if resource in s.resources else s
        for s in policy.statements
    )
    assert statements != policy.statements, f"{function} was not granted {action} on {resource}"
    monkeypatch.setitem(iam.ENFORCER.by_function, function, replace(policy, statements=statements))


def test_a_call_outside_the_policy_fails_on_the_invocations_worker_thread_too(api, demo, monkeypatch, denials):
    key = demo["DEMO_PRIVATE_KEY"]
    assert api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=key).status == 200
    revoke(monkeypatch, "ConsoleFunction", "dynamodb:BatchGetItem", MEMBERSHIPS)

    reply = api.call("GET", "/console/api/audiences", key=key)

    assert reply.status == 500 and "internal error" in reply.body["error"]["message"]
    [denial] = {(d.function, d.request.action, d.request.resource) for d in denials}
    assert denial == ("ConsoleFunction", "dynamodb:BatchGetItem", MEMBERSHIPS)
    assert all(d.thread.startswith("apply") for d in denials)  # the sizes are read on the pool's threads


def test_a_presigned_url_the_function_may_not_sign_is_refused_when_made(api, demo, monkeypatch, denials):
    key = demo["DEMO_PRIVATE_KEY"]
    assert api.call("PUT", "/v3/segments/vip_users", segment("vip"), key=key).status == 200
    bucket = PLAN.intrinsics.resolve({"Fn::GetAtt": ["ImportsBucket", "Arn"]})
    revoke(monkeypatch, "SegmentsFunction", "s3:PutObject", f"{bucket}/*/audience-diffs/*")

    reply = api.call("POST", "/v3/imports/upload-url", {"audience": "vip_users"}, key=key)

    assert reply.status == 500
    assert [(d.request.action, d.request.resource) for d in denials] == [
        ("s3:PutObject", f"{bucket}/demo/audience-diffs/vip_users.csv.gz")
    ]


def test_the_event_source_reads_its_queue_with_the_functions_role(functions, aws, monkeypatch, denials):
    monkeypatch.setitem(iam.ENFORCER.by_function, "ImportsFunction", iam.Policy("ImportsFunction"))

    with pytest.raises(ClientError, match="AccessDenied") as raised:
        imports_poller(functions).poll_once()

    assert "sqs:ReceiveMessage" in str(raised.value) and "ImportsFunction's Policies" in str(raised.value)
    assert [d.request.action for d in denials] == ["sqs:ReceiveMessage"]


def test_every_client_is_checked_during_an_invocation_and_none_outside_one(aws, denials):
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    item = {"pk": {"S": "t#x"}, "sk": {"S": "y"}}
    with iam.ENFORCER.acting_as("IngestFunction"):
        with pytest.raises(ClientError, match="AccessDeniedException"):
            dynamodb.delete_item(TableName=PLAN.names["MembershipsTable"], Key=item)
        with pytest.raises(Exception, match="dynamodb:Query"):  # PynamoDB's own client, through its error
            list(AudienceItem.query("t"))
    assert [d.request.action for d in denials] == ["dynamodb:DeleteItem", "dynamodb:Query"]

    dynamodb.delete_item(TableName=PLAN.names["MembershipsTable"], Key=item)  # the operator's own call
    assert list(AudienceItem.query("t")) == []
    assert len(denials) == 2
