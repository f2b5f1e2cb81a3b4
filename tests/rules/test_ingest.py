"""POST /v3/events through the ingest handler on moto."""

from __future__ import annotations

import base64
import json
import time

import pytest

from audiences import auth
from audiences.domain import Confidence, Principal, Scope, State, Tenant, UserRef
from audiences.wiring import stores
from local.gateway import proxy_event
from tests.integration.helpers import event

T = 1_748_851_070


def state_of(user: str, audience: str) -> tuple[State, float] | None:
    return stores().memberships.user_memberships("demo", UserRef("fs_user_id", user)).get(audience)


def test_accepts_one_event_with_odp_answer(api, demo):
    reply = api.call("POST", "/v3/events", event("qualify", "u1", "vip", T), key=demo["DEMO_PUBLIC_KEY"])
    assert reply.status == 202
    assert reply.body["title"] == "Accepted" and reply.body["status"] == 202
    assert reply.body["timestamp"].endswith("Z")
    assert state_of("u1", "vip") == (State.QUALIFIED, T)


def test_private_key_may_send_events_too(api, demo):
    reply = api.call("POST", "/v3/events", [event("qualify", "u1", "vip", T)], key=demo["DEMO_PRIVATE_KEY"])
    assert reply.status == 202


@pytest.mark.parametrize("key", [None, "", "pa_pub_not-a-key"])
def test_missing_or_unknown_key_is_forbidden_and_changes_nothing(api, demo, key):
    reply = api.call("POST", "/v3/events", event("qualify", "u1", "vip", T), key=key)
    assert (reply.status, reply.body) == (403, {"message": "Forbidden"})
    assert state_of("u1", "vip") is None


def test_older_event_does_not_overwrite_newer(api, demo):
    key = demo["DEMO_PUBLIC_KEY"]
    api.call("POST", "/v3/events", event("disqualify", "u1", "vip", T + 10), key=key)
    reply = api.call("POST", "/v3/events", event("qualify", "u1", "vip", T), key=key)
    assert reply.status == 202  # a stale event is accepted, and ignored
    assert state_of("u1", "vip") == (State.DISQUALIFIED, T + 10)


@pytest.mark.parametrize("order", [["qualify", "disqualify"], ["disqualify", "qualify"]])
def test_equal_ts_disqualify_wins_in_any_order(api, demo, order):
    for action in order:
        api.call("POST", "/v3/events", event(action, "u1", "vip", T), key=demo["DEMO_PUBLIC_KEY"])
    assert state_of("u1", "vip") == (State.DISQUALIFIED, T)


def test_one_invalid_event_rejects_the_whole_batch(api, demo):
    batch = [event("qualify", "u1", "vip", T), event("qualify", "u2", "vip", T * 1000), event("maybe", "u3", "vip", T)]
    reply = api.call("POST", "/v3/events", batch, key=demo["DEMO_PUBLIC_KEY"])
    assert reply.status == 400
    assert reply.body["title"] == "Bad Request" and reply.body["status"] == 400
    invalids = reply.body["detail"]["invalids"]
    assert [invalid["event"] for invalid in invalids] == [1, 2]
    assert "milliseconds" in invalids[0]["message"]
    assert "'qualify' or 'disqualify'" in invalids[1]["message"]
    assert state_of("u1", "vip") is None  # nothing half-applied


def test_malformed_body_says_what_is_wrong(api, demo):
    reply = api.call("POST", "/v3/events", raw="{not json", key=demo["DEMO_PUBLIC_KEY"])
    assert reply.status == 400
    assert "not valid JSON" in reply.body["detail"]["message"]


def test_absent_ts_means_receive_time(api, demo):
    body = event("qualify", "u1", "vip", T)
    del body["data"]["ts"]
    before = time.time()
    api.call("POST", "/v3/events", body, key=demo["DEMO_PUBLIC_KEY"])
    state, ts = state_of("u1", "vip")
    assert state is State.QUALIFIED and before <= ts <= time.time()


def test_tenants_do_not_share_memberships(api, demo):

    stores().tenants.create_tenant(Tenant.of("other", fs_user_id=Confidence.HIGH))
    other_key = auth.issue_key(Principal("other", Scope.PUBLIC))
    api.call("POST", "/v3/events", event("qualify", "u1", "vip", T), key=other_key)
    assert state_of("u1", "vip") is None
    assert stores().memberships.user_memberships("other", UserRef("fs_user_id", "u1")) == {"vip": (State.QUALIFIED, T)}


def raw_call(api, body: bytes, content_type: str | None, key: str, base64_body: bool = False):
    """A request with exactly these bytes and Content-Type, through the gateway's event builder."""
    target = api.router.match("POST", "/v3/events")[0]
    headers = [("x-api-key", key)] + ([("content-type", content_type)] if content_type else [])
    event_ = proxy_event(target, {}, "POST", "/v3/events", headers, body)
    if base64_body:
        event_["body"], event_["isBase64Encoded"] = base64.b64encode(body).decode(), True
    result = target.function.invoke(event_)
    return result["statusCode"], json.loads(result["body"])


def test_a_body_that_is_not_utf8_is_refused(api, demo):
    status, answer = raw_call(api, b"\xff\xfe{}", "application/json", demo["DEMO_PUBLIC_KEY"], base64_body=True)
    assert status == 400 and "not UTF-8" in answer["detail"]["message"]
