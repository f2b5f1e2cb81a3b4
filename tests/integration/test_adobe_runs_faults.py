"""A crash before or after any AWS call of a run, then the redelivery: always the same end state."""

from __future__ import annotations

import boto3
import pytest

from audiences import auth, memberships
from audiences.domain import Confidence, ImportStatus, Principal, Scope, Tenant, UserRef
from audiences.stores import catalog as catalog_store
from audiences.stores import imports as import_store
from audiences.stores import memberships as membership_store
from audiences.stores import tenants as tenant_store
from local.provision import REGION
from tests.adobe_client import Adobe, request
from tests.aws_calls import crash_points
from tests.conftest import PLAN
from tests.imports_helpers import crash_then_redeliver, drain

BEFORE, AFTER = ["a", "b", "c"], ["b", "c", "d", "e"]
FIELDS = [{"name": "email", "type": "string", "identityNs": "email"}]


def put_members(tenant_id: str, name: str, members: list[str]) -> None:
    text = "email\n" + "".join(f"{member}\n" for member in members)
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=PLAN.names["ImportsBucket"], Key=f"{tenant_id}/sources/adobe/prod/drops/{name}", Body=text.encode()
    )


def tenant_with_a_first_run(api, functions, tenant_id: str) -> tuple[Adobe, str]:
    tenant_store.create_tenant(Tenant.of(tenant_id, email=Confidence.HIGH))
    adobe = Adobe(api, auth.issue_key(Principal(tenant_id, Scope.PRIVATE)), org=tenant_id)
    body = request(customAudienceId="vip", fields=FIELDS, sourceSpec={"path": "drops", "type": "folder"})
    audience_id = adobe.create(**body)["operationId"]
    put_members(tenant_id, "first.csv", BEFORE)
    assert adobe.call("POST", f"/external-audience/{audience_id}/runs", {"dataFilterStartTime": 0})[0] == 200
    drain(functions)
    return adobe, audience_id


def run_second(functions, adobe: Adobe, audience_id: str, tenant_id: str, fault: tuple[int, str] | None) -> list[str]:
    """The second run, crashed as `fault` says, then redelivered; returns its AWS calls."""
    boto3.client("s3", region_name=REGION).delete_object(  # the second run reads only the second file
        Bucket=PLAN.names["ImportsBucket"], Key=f"{tenant_id}/sources/adobe/prod/drops/first.csv"
    )
    put_members(tenant_id, "second.csv", AFTER)
    drain(functions)  # the upload's own notification, which starts nothing
    assert adobe.call("POST", f"/external-audience/{audience_id}/runs", {"dataFilterStartTime": 0})[0] == 200
    return crash_then_redeliver(functions, fault)


def assert_converged(tenant_id: str, context: str) -> None:
    states = {
        user: membership_store.user_memberships(tenant_id, UserRef("email", user))["vip"][0].value
        for user in BEFORE + AFTER
    }
    assert states == {"a": "disqualified"} | dict.fromkeys(AFTER, "qualified"), context
    assert memberships.audience_size(tenant_id, "vip") == 4, context
    audience_id = catalog_store.get_audience(tenant_id, "vip").audience_id
    second, _ = import_store.with_prefix(tenant_id, f"run-{audience_id}-", newest_first=True, skip=0, limit=1)
    assert (second[0].status, second[0].qualified, second[0].disqualified) == (ImportStatus.SUCCESS, 2, 1), context
    assert import_store.state(tenant_id, "vip").import_id == second[0].import_id, context


@pytest.mark.parametrize("when", ["before", "after"])
def test_crash_around_every_aws_call_of_a_run_converges(api, functions, when):
    drain(functions)
    adobe, audience_id = tenant_with_a_first_run(api, functions, "clean")
    calls = run_second(functions, adobe, audience_id, "clean", fault=None)
    assert_converged("clean", "without a crash")
    assert {"s3.ListObjectsV2", "s3.GetObject", "s3.PutObject", "sqs.SendMessageBatch"} <= set(calls)
    for index in crash_points(calls, when):
        tenant_id = f"{when}{index}"
        adobe, audience_id = tenant_with_a_first_run(api, functions, tenant_id)
        run_second(functions, adobe, audience_id, tenant_id, fault=(index, when))
        assert_converged(tenant_id, f"crash {when} call {index}")
