"""A crash before or after any AWS call of an upload, then the client's retry: always the model's result."""

from __future__ import annotations

import json

import pytest

from audiences import auth
from audiences.domain import Confidence, Principal, Scope, Tenant
from audiences.odp.events import parse_events
from audiences.stores import tenants
from tests.aws_calls import AWS_CALLS, AWS_FAULTS
from tests.integration.helpers import event
from tests.model import expected, observed

pytestmark = pytest.mark.usefixtures("privacy_marks_cached")

T = 1_748_851_070
ALREADY_STORED = [event("qualify", "u3", "a", T - 2), event("qualify", "u2", "b", T)]
UPLOAD = [
    event("qualify", "u1", "a", T),
    event("qualify", "u2", "a", T),
    event("qualify", "u1", "b", T),
    event("disqualify", "u1", "a", T + 5),
    event("qualify", "u3", "a", T - 1),
    event("disqualify", "u4", "b", T),  # a tombstone for someone never qualified
    event("qualify", "u2", "a", T),  # a duplicate
    event("disqualify", "u2", "b", T + 1),
]
HISTORY = parse_events(
    json.dumps(ALREADY_STORED + UPLOAD), Tenant.of("any", fs_user_id=Confidence.HIGH), T + 10, 300
).changes


def tenant_with_history(api, name: str) -> str:
    """A tenant holding ALREADY_STORED, whose key and config the container has cached."""
    tenants.create_tenant(Tenant.of(name, fs_user_id=Confidence.HIGH))
    key = auth.issue_key(Principal(name, Scope.PUBLIC))
    assert api.call("POST", "/v3/events", ALREADY_STORED, key=key).status == 202
    return key


@pytest.mark.parametrize("when", ["before", "after"])
def test_crash_around_every_aws_call_then_retry_converges(api, when):
    key = tenant_with_history(api, "clean")
    AWS_CALLS.reset()
    assert api.call("POST", "/v3/events", UPLOAD, key=key).status == 202
    total = len(AWS_CALLS.calls)
    # the archive; one transaction cancelled by the memberships it finds already stored,
    # and its re-send with the fresh changes and those conditioned on what it found
    assert AWS_CALLS.counts() == {"firehose.PutRecordBatch": 1, "dynamodb.TransactWriteItems": 2}

    for index in range(total):
        tenant = f"{when}-{index}"
        key = tenant_with_history(api, tenant)
        AWS_FAULTS.arm(index, when)
        try:
            failed = api.call("POST", "/v3/events", UPLOAD, key=key)
        finally:
            AWS_FAULTS.disarm()
        assert failed.status == 500, f"crash {when} call {index}"
        assert failed.body["detail"]["message"] == "internal error: retrying the same request is safe"
        assert api.call("POST", "/v3/events", UPLOAD, key=key).status == 202
        assert observed(tenant, HISTORY) == expected(HISTORY), f"crash {when} call {index}"
