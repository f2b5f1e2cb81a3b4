"""Segment's Tracking API (/v1/*) through the local gateway and the tracking handler on moto."""

from __future__ import annotations

import itertools
import json
import re
import time

import pytest

from audiences import auth, catalog, memberships
from audiences.domain import Audience, Confidence, Principal, Scope, State, Tenant, UserRef
from audiences.wiring import stores
from local.template import ROOT
from tests.aws_calls import AWS_CALLS, AWS_FAULTS
from tests.integration.helpers import basic, entered, exited, identified, iso
from tests.integration.helpers import tracking_post as post
from tests.integration.test_ingest import archived

T = 1_764_763_200  # 2025-12-03T12:00:00Z
DOCS = ROOT / "events" / "segment-docs"


def state_of(user: str, external_id: str, tenant: str = "demo", field: str = "fs_user_id"):
    return stores().memberships.user_memberships(tenant, UserRef(field, user)).get(external_id)


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/import"])
def test_a_batch_applies_its_audience_calls_and_archives_every_call(api, demo, path):
    calls = [
        entered("u1", "vip", T - 60),
        {"type": "page", "userId": "u1", "name": "Home", "writeKey": "not archived"},
        {"type": "track", "anonymousId": "a1", "event": "Order Completed", "properties": {"total": 9}},
        identified("u2", "vip", True, T - 50),
    ]
    status, answer, _ = post(api, path, {"batch": calls, "sentAt": iso(T)}, demo["DEMO_PUBLIC_KEY"])
    assert (status, answer) == (200, {"success": True})
    assert memberships.audience_size("demo", "vip") == 2
    [lines] = archived().values()
    assert [line["event"] for line in lines] == [calls[0], {"type": "page", "userId": "u1", "name": "Home"}, *calls[2:]]
    assert {line["source"] for line in lines} == {"segment-tracking"}
    assert "not archived" not in json.dumps(lines)


def test_an_invalid_batch_changes_nothing_and_names_each_invalid_call(api, demo):
    calls = [entered("u1", "vip", T - 5), {"type": "track", "userId": "u2"}, exited("u3", "vip", time.time() + 3600)]
    status, answer, _ = post(api, "/v1/batch", {"batch": calls}, demo["DEMO_PUBLIC_KEY"])
    assert status == 400 and answer["success"] is False and answer["code"] == "invalid_request"
    assert answer["message"] == "2 of 3 calls are invalid; none was applied"
    assert [error["index"] for error in answer["errors"]] == [1, 2]
    assert answer["errors"][0]["message"].startswith("a track call needs event")
    assert "in the future" in answer["errors"][1]["message"]
    assert state_of("u1", "vip") is None and archived() == {}


@pytest.mark.parametrize(
    "authorization",
    [None, basic("pa_pub_not-a-key"), basic(""), "Basic !!not-base64!!", "Bearer x"],
)
def test_without_a_valid_write_key_nothing_changes(api, demo, authorization):
    headers = [("Content-Type", "application/json")] + ([("Authorization", authorization)] if authorization else [])
    status, answer, out = post(api, "/v1/track", entered("u1", "vip", T - 5), headers=headers)
    assert (status, answer["success"], answer["code"]) == (401, False, "unauthorized")
    assert "public key as the write key" in answer["message"] and out["WWW-Authenticate"] == 'Basic realm="Segment"'
    assert state_of("u1", "vip") is None and archived() == {}


def test_tenants_are_isolated(api, demo):
    stores().tenants.create_tenant(Tenant.of("other", fs_user_id=Confidence.HIGH))
    other_key = auth.issue_key(Principal("other", Scope.PUBLIC))
    catalog.create_audience("other", Audience(key="vip", external_id="other-vip"), "test")
    assert post(api, "/v1/track", entered("u1", "vip", T - 5), other_key)[0] == 200
    assert post(api, "/v1/track", entered("u2", "vip", T - 5), demo["DEMO_PUBLIC_KEY"])[0] == 200
    assert state_of("u1", "other-vip", "other") == (State.QUALIFIED, T - 5)  # other's catalog named it
    assert state_of("u1", "vip") is None and state_of("u1", "other-vip") is None
    assert state_of("u2", "vip") == (State.QUALIFIED, T - 5) and state_of("u2", "vip", "other") is None
    by_tenant = {key.split("/")[1]: [line["event"]["userId"] for line in lines] for key, lines in archived().items()}
    assert by_tenant == {"tenant=demo": ["u2"], "tenant=other": ["u1"]}


def test_an_anonymous_audience_call_is_archived_changes_nothing_and_says_so(api, demo):
    call = entered("u1", "vip", T - 5) | {"userId": None, "anonymousId": "anon-1"}
    status, answer, _ = post(api, "/v1/batch", {"batch": [entered("u2", "vip", T - 5), call]}, demo["DEMO_PUBLIC_KEY"])
    assert status == 200 and answer["success"] is True
    [warning] = answer["warnings"]
    assert warning["index"] == 1 and "named only by anonymousId" in warning["message"]
    assert memberships.audience_size("demo", "vip") == 1
    assert [line["event"].get("anonymousId") for lines in archived().values() for line in lines] == [None, "anon-1"]


# (GET /v1/track is API Gateway's own 403: a resource that has other methods, as API Gateway answers.)
def test_the_docs_payloads_as_sent(api, demo):
    def sent(name: str) -> dict:
        return json.loads(re.sub(r"[ \t]*//[^\n]*", "", (DOCS / name).read_text()))

    key = demo["DEMO_PUBLIC_KEY"]
    assert post(api, "/v1/track", sent("engage-track-personas.jsonc"), key)[0] == 200
    assert post(api, "/v1/track", sent("engage-track.json"), key)[0] == 200
    assert post(api, "/v1/identify", sent("engage-identify.json"), key)[0] == 200
    status, answer, _ = post(api, "/v1/identify", sent("engage-identify-personas.jsonc"), key)
    assert status == 400 and "traits.aud_### must be true or false" in answer["message"]
    assert state_of("u123", "first_time_shopper")[0] is State.QUALIFIED
    assert state_of("user-123", "browse_abandoners")[0] is State.QUALIFIED
    assert memberships.audience_sizes("demo", ["first_time_shopper", "browse_abandoners"]) == {
        "first_time_shopper": 1,
        "browse_abandoners": 1,
    }
    assert sum(len(lines) for lines in archived().values()) == 3


CALLS = [entered("u1", "a", T - 9), exited("u1", "b", T - 8), identified("u2", "a", True, T - 7), entered("u3", "b", T)]


@pytest.mark.parametrize("when", ["before", "after"])
def test_crash_around_every_aws_call_then_retry_converges(api, demo, when):
    key = demo["DEMO_PUBLIC_KEY"]
    body = {"batch": CALLS}
    AWS_CALLS.reset()
    assert post(api, "/v1/batch", body, key)[0] == 200
    total = len(AWS_CALLS.calls)
    expected = {
        user: stores().memberships.user_memberships("demo", UserRef("fs_user_id", user)) for user in ("u1", "u2", "u3")
    }
    for index, tenant in zip(range(total), (f"t{n}" for n in itertools.count()), strict=False):
        stores().tenants.create_tenant(Tenant.of(tenant, fs_user_id=Confidence.HIGH))
        tenant_key = auth.issue_key(Principal(tenant, Scope.PUBLIC))
        AWS_FAULTS.arm(index, when)
        try:
            status, answer, _ = post(api, "/v1/batch", body, tenant_key)
        finally:
            AWS_FAULTS.disarm()
        assert (status, answer["code"]) == (500, "server_error"), f"crash {when} call {index}"
        assert answer["message"] == "internal error: retrying the same request is safe"
        assert post(api, "/v1/batch", body, tenant_key)[0] == 200
        got = {user: stores().memberships.user_memberships(tenant, UserRef("fs_user_id", user)) for user in expected}
        assert got == expected, f"crash {when} call {index}"
        assert memberships.audience_sizes(tenant, ["a", "b"]) == {"a": 2, "b": 1}
