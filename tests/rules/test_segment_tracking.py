"""Segment's Tracking API (/v1/*) through the local gateway and the tracking handler on moto."""

from __future__ import annotations

import gzip
import json
import random
import re

import pytest

from audiences import auth, cache, catalog, memberships, tenants
from audiences.domain import Audience, Confidence, Identifier, IdentityMap, Principal, Scope, State, Tenant, UserRef
from audiences.errors import InvalidInput, NotFound
from audiences.wiring import stores
from local.gateway import respond
from tests.integration.helpers import entered, exited, identified
from tests.integration.helpers import tracking_post as post

T = 1_764_763_200  # 2025-12-03T12:00:00Z


def state_of(user: str, external_id: str, tenant: str = "demo", field: str = "fs_user_id"):
    return stores().memberships.user_memberships(tenant, UserRef(field, user)).get(external_id)


def test_identify_and_track_of_an_audience_change_its_memberships(api, demo):
    key = demo["DEMO_PUBLIC_KEY"]
    assert post(api, "/v1/identify", identified("u1", "vip", True, T - 60), key)[:2] == (200, {"success": True})
    assert post(api, "/v1/track", entered("u2", "vip", T - 30), key)[:2] == (200, {"success": True})
    assert state_of("u1", "vip") == (State.QUALIFIED, T - 60)
    assert state_of("u2", "vip") == (State.QUALIFIED, T - 30)
    assert post(api, "/v1/track", exited("u2", "vip", T - 10), key)[0] == 200
    assert post(api, "/v1/identify", identified("u1", "vip", False, T - 5), key)[0] == 200
    assert state_of("u1", "vip") == (State.DISQUALIFIED, T - 5) and state_of("u2", "vip") == (
        State.DISQUALIFIED,
        T - 10,
    )
    assert memberships.audience_size("demo", "vip") == 0


def test_an_audience_key_finds_the_audience_holding_it_else_names_the_external_id(api, demo):
    catalog.create_audience("demo", Audience(key="vip_users", external_id="crm-vip"), "test")
    calls = [entered("u1", "vip_users", T - 5), entered("u1", "crm-vip-2", T - 5)]
    assert post(api, "/v1/batch", {"batch": calls}, demo["DEMO_PUBLIC_KEY"])[0] == 200
    assert state_of("u1", "crm-vip") == (State.QUALIFIED, T - 5)  # the audience's external id
    assert state_of("u1", "crm-vip-2") == (State.QUALIFIED, T - 5)  # no such key: kept under the name it gave
    catalog.create_audience("demo", Audience(key="later", external_id="crm-vip-2"), "test")
    assert memberships.audience_size("demo", "crm-vip-2") == 1  # the audience made later counts it


def test_an_audience_made_in_another_container_is_found_by_the_next_call(api, demo):

    assert post(api, "/v1/track", entered("u1", "made_elsewhere", T - 9), demo["DEMO_PUBLIC_KEY"])[0] == 200
    made = Audience(key="made_elsewhere", external_id="crm-9")
    stores().catalog.create_audience("demo", made, "test")  # past this container's copy of the catalog
    assert post(api, "/v1/track", entered("u2", "made_elsewhere", T - 8), demo["DEMO_PUBLIC_KEY"])[0] == 200
    assert state_of("u2", "crm-9") == (State.QUALIFIED, T - 8)


@pytest.mark.parametrize("seed", range(6))
def test_out_of_order_and_duplicated_deliveries_converge(api, demo, seed):
    history = [
        entered("u1", "vip", T - 50),
        exited("u1", "vip", T - 40),
        identified("u1", "vip", True, T - 30),
        entered("u2", "vip", T - 20),
        identified("u2", "vip", False, T - 20),  # an equal ts: leaving wins
        entered("u3", "vip", T - 10),
    ]
    rng = random.Random(seed)
    deliveries = history + rng.sample(history, 4)  # Engage retries, and so do the libraries
    rng.shuffle(deliveries)
    for start in range(0, len(deliveries), 3):
        assert post(api, "/v1/batch", {"batch": deliveries[start : start + 3]}, demo["DEMO_PUBLIC_KEY"])[0] == 200
    assert [state_of(user, "vip") for user in ("u1", "u2", "u3")] == [
        (State.QUALIFIED, T - 30),
        (State.DISQUALIFIED, T - 20),
        (State.QUALIFIED, T - 10),
    ]
    assert memberships.audience_size("demo", "vip") == 2


def test_a_single_invalid_call_says_why_in_its_message(api, demo):
    status, answer, _ = post(api, "/v1/identify", {"traits": {"a": 1}}, demo["DEMO_PUBLIC_KEY"])
    assert (status, answer["code"]) == (400, "invalid_request")
    assert answer["message"] == "1 of 1 calls are invalid; none was applied: userId or anonymousId is required"


@pytest.mark.parametrize(
    "body,message",
    [
        ("{", "the request body is not valid JSON"),
        ("[]", "the body must be a JSON object"),
        ('{"batch": {}}', "batch must be a non-empty array of calls"),
        ('{"batch": [], "sentAt": "noon"}', "batch must be a non-empty array"),
        ('{"batch": [{"type": "page", "userId": "u"}], "sentAt": "noon"}', "sentAt must be an ISO 8601 date-time"),
    ],
)
def test_a_body_that_is_not_a_batch_is_refused(api, demo, body, message):
    status, answer, _ = post(api, "/v1/batch", None, demo["DEMO_PUBLIC_KEY"], raw=body.encode())
    assert status == 400 and answer["message"].startswith(message), answer


def test_the_write_key_may_come_in_the_body_and_a_private_key_serves_too(api, demo):
    body = entered("u1", "vip", T - 5) | {"writeKey": demo["DEMO_PUBLIC_KEY"]}
    assert post(api, "/v1/track", body)[:2] == (200, {"success": True})
    body = {"batch": [entered("u2", "vip", T - 5)], "writeKey": demo["DEMO_PRIVATE_KEY"]}
    assert post(api, "/v1/batch", body)[0] == 200
    assert memberships.audience_size("demo", "vip") == 2
    assert post(api, "/v1/track", entered("u3", "vip", T) | {"writeKey": "pa_pub_wrong"})[0] == 401
    status, answer, _ = post(api, "/v1/track", None, raw=b"{not json")  # no Basic auth, and a body naming no key
    assert (status, answer["code"]) == (401, "unauthorized")


def test_the_identity_map_names_the_field_of_user_ids_and_traits(api, demo):
    tenants.add_identifier("demo", Identifier("customer_id", Confidence.HIGH))
    tenants.set_identity_map("demo", IdentityMap("customer_id", (("email", "email"),)))
    cache.clear_all()  # as AUTH_CACHE_SECONDS would
    anonymous_with_email = identified("x", "vip", True, T - 5) | {"userId": None, "anonymousId": "a1"}
    calls = [entered("c1", "vip", T - 5), anonymous_with_email]
    assert post(api, "/v1/batch", {"batch": calls}, demo["DEMO_PUBLIC_KEY"])[0] == 200
    assert state_of("c1", "vip", field="customer_id") == (State.QUALIFIED, T - 5)
    assert state_of("x@example.com", "vip", field="email") == (State.QUALIFIED, T - 5)


def test_an_identity_map_may_only_name_identifiers_that_key_memberships(demo):
    with pytest.raises(InvalidInput, match="identifier 'vuid' is low-confidence; user ids and traits need one of"):
        tenants.set_identity_map("demo", IdentityMap("fs_user_id", (("device", "vuid"),)))
    with pytest.raises(InvalidInput, match="identifier 'nope' is not configured"):
        tenants.set_identity_map("demo", IdentityMap("nope", ()))
    with pytest.raises(InvalidInput, match="trait names must be 1 to 128 characters"):
        tenants.set_identity_map("demo", IdentityMap("fs_user_id", (("", "email"),)))
    with pytest.raises(NotFound, match="tenant 'nobody' does not exist"):
        tenants.set_identity_map("nobody", IdentityMap())
    with pytest.raises(InvalidInput, match="each trait may be mapped once"):
        tenants.set_identity_map("demo", IdentityMap("fs_user_id", (("email", "email"), ("email", "email"))))
    assert stores().tenants.get_tenant("demo").identity_map == IdentityMap()


def test_a_user_the_tenant_cannot_name_is_refused_with_what_to_configure(api, demo):
    stores().tenants.create_tenant(Tenant.of("crm", customer_id=Confidence.HIGH))
    key = auth.issue_key(Principal("crm", Scope.PUBLIC))
    status, answer, _ = post(api, "/v1/track", entered("u1", "vip", T - 5), key)
    assert status == 400
    assert "userId names the user as identifier 'fs_user_id' is not configured" in answer["message"]
    assert "identity-map set <tenant> --user-id FIELD" in answer["message"]


def test_segments_limits_are_kept(api, demo):
    key = demo["DEMO_PUBLIC_KEY"]
    big = entered("u1", "vip", T - 5) | {"properties": {"audience_key": "vip", "note": "x" * 33_000}}
    status, answer, _ = post(api, "/v1/track", big, key)
    assert (status, answer["code"]) == (400, "payload_too_large")
    assert answer["message"] == "the body is larger than 32768 bytes: send less data with the call"
    status, answer, _ = post(api, "/v1/batch", {"batch": [big]}, key)
    assert (status, answer["errors"][0]["index"]) == (400, 0)
    many = [
        entered(f"u{i}", "vip", T - 5) | {"properties": {"audience_key": "vip", "n": "x" * 20_000}} for i in range(26)
    ]
    status, answer, _ = post(api, "/v1/batch", {"batch": many}, key)
    assert (status, answer["code"]) == (400, "payload_too_large") and "send fewer calls per batch" in answer["message"]
    assert memberships.audience_size("demo", "vip") == 0


def gzip_body(document: object) -> bytes:
    return gzip.compress(json.dumps(document).encode())


def test_a_gzip_body_is_read_as_its_json(api, demo):
    body = gzip_body({"batch": [entered("u1", "vip", T - 5)]})
    headers = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
    assert post(api, "/v1/batch", None, demo["DEMO_PUBLIC_KEY"], headers, raw=body)[:2] == (200, {"success": True})
    assert state_of("u1", "vip") == (State.QUALIFIED, T - 5)


def test_a_gzip_body_too_large_uncompressed_or_broken_is_refused(api, demo):
    headers = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
    bomb = gzip.compress(b'{"batch": [' + b" " * 50_000_000 + b"]}")
    status, answer, _ = post(api, "/v1/batch", None, demo["DEMO_PUBLIC_KEY"], headers, raw=bomb)
    assert (status, answer["code"]) == (400, "payload_too_large") and "uncompressed" in answer["message"]
    whole = gzip_body({"batch": [entered("u1", "vip", T - 5)]})
    for broken in (whole[:-20], whole[:12] + b"\xff" * 8):  # cut short, or garbled
        status, answer, _ = post(api, "/v1/batch", None, demo["DEMO_PUBLIC_KEY"], headers, raw=broken)
        assert status == 400 and "is not valid gzip" in answer["message"], answer
    assert state_of("u1", "vip") is None


@pytest.mark.parametrize("content_type,status", [("text/plain", 200), (None, 200), ("text/html", 415)])
def test_analytics_js_sends_text_plain(api, demo, content_type, status):
    headers = [("Content-Type", content_type)] if content_type else []
    got, answer, _ = post(api, "/v1/track", entered("u1", "vip", T - 5), demo["DEMO_PUBLIC_KEY"], headers)
    assert got == status, answer
    if status == 415:
        assert answer["message"] == "Content-Type must be application/json or text/plain, got 'text/html'"


# (GET /v1/track is API Gateway's own 403: a resource that has other methods, as API Gateway answers.)
@pytest.mark.parametrize("method,path", [("POST", "/v1/p"), ("GET", "/v1/anything"), ("POST", "/v1/batch/more")])
def test_an_unknown_endpoint_answers_what_there_is(api, method, path):
    status, _, data = respond(api.router, method, path, [], b"{}")
    answer = json.loads(data)
    assert (status, answer["success"], answer["code"]) == (404, False, "not_found")
    assert re.search(r"The Tracking API is /v1/identify, .*, /v1/import$", answer["message"])
