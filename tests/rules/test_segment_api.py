"""Segment's Public API audiences on the shared catalog: shapes, the error matrix, isolation, pagination."""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from audiences import auth
from audiences.domain import Confidence, Principal, Scope, Tenant
from audiences.wiring import stores
from tests.integration.helpers import customer_query, event, segment
from tests.segment_client import Segment, create

T = 1_748_851_070


def other_tenant(api) -> Segment:

    stores().tenants.create_tenant(Tenant.of("other", fs_user_id=Confidence.HIGH))
    return Segment(api, auth.issue_key(Principal("other", Scope.PRIVATE)), space="other")


REQUIRED = (
    "id spaceId name key enabled definition status audienceType computeCadence createdBy updatedBy createdAt updatedAt"
)


def test_create_get_and_the_audience_object(client):
    created = create(client, "VIP customers", description="best", definition={"query": "q", "type": "USERS"})
    assert set(REQUIRED.split()) <= set(created)
    assert (created["key"], created["name"], created["spaceId"], created["status"]) == (
        "vip_customers",
        "VIP customers",
        "demo",
        "Live",
    )
    assert created["definition"] == {"query": "q", "type": "USERS"}
    assert created["size"] == {"count": 0, "type": "USERS"}
    assert created["createdBy"] == auth.key_id(client.token) == created["updatedBy"]
    assert created["createdAt"].endswith("Z") and len(created["createdAt"]) == 24
    status, headers, body = client.audiences(suffix=f"/{created['id']}")
    assert (status, body) == (200, {"data": {"audience": created}})
    assert headers["Content-Type"] == "application/json"


def test_cross_dialect_one_catalog(api, demo, client):
    created = create(client, "VIP", key="vip_users")
    public = demo["DEMO_PUBLIC_KEY"]
    api.call("POST", "/v3/events", [event("qualify", u, "vip_users", T) for u in ("u1", "u2")], key=public)
    assert client.audiences(suffix=f"/{created['id']}")[2]["data"]["audience"]["size"]["count"] == 2
    names = api.call("POST", "/v3/graphql", customer_query("u1"), key=public).body
    assert names["data"]["customer"]["audiences"]["edges"] == [{"node": {"name": "vip_users", "state": "qualified"}}]
    assert "vip_users" in api.call("GET", "/v3/segments", key=demo["DEMO_PRIVATE_KEY"]).body["segment_ids"]

    status, _, body = client.audiences("PATCH", f"/{created['id']}", {"enabled": False})
    assert (status, body["data"]["audience"]["status"]) == (200, "Disabled")
    assert api.call("POST", "/v3/graphql", customer_query("u1"), key=public).body["data"]["customer"] == {
        "audiences": {"edges": []}
    }
    client.audiences("PATCH", f"/{created['id']}", {"enabled": True})
    assert api.call("GET", "/v3/segments/vip_users", key=demo["DEMO_PRIVATE_KEY"]).body["size"] == 2  # members kept

    assert client.audiences("DELETE", f"/{created['id']}")[2] == {"data": {"status": "SUCCESS"}}
    assert api.call("GET", "/v3/segments/vip_users", key=demo["DEMO_PRIVATE_KEY"]).status == 404


def test_an_odp_segment_is_a_segment_audience_with_its_exact_size(api, demo, client):
    api.call("PUT", "/v3/segments/odp_made", segment("odp_ext"), key=demo["DEMO_PRIVATE_KEY"])
    api.call("POST", "/v3/events", [event("qualify", "u1", "odp_ext", T)], key=demo["DEMO_PUBLIC_KEY"])
    [listed] = client.audiences()[2]["data"]["audiences"]
    assert (listed["key"], listed["name"], listed["size"]["count"], listed["definition"]) == (
        "odp_made",
        "odp_made",
        1,
        None,
    )
    assert client.audiences(suffix=f"/{listed['id']}")[2]["data"]["audience"] == listed


def test_patch_changes_only_what_it_names_and_bumps_the_revision_as_odp_does(api, demo, client):
    created = create(client, "VIP", description="d", definition={"query": "a"})
    _, _, body = client.audiences("PATCH", f"/{created['id']}", {"name": "Renamed"})
    patched = body["data"]["audience"]
    assert (patched["name"], patched["key"], patched["id"], patched["description"]) == (
        "Renamed",
        "vip",
        created["id"],
        "d",
    )
    assert patched["definition"] == {"query": "a"}
    assert api.call("GET", "/v3/segments/vip", key=demo["DEMO_PRIVATE_KEY"]).body["revision"] == 2
    client.audiences("PATCH", f"/{created['id']}", {"definition": None})
    assert client.audiences(suffix=f"/{created['id']}")[2]["data"]["audience"]["definition"] is None


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status", "kind", "fields"),
    [
        ("POST", "", {}, 422, "input-validation", ["name"]),
        ("POST", "", {"name": ""}, 422, "input-validation", ["name"]),
        ("POST", "", {"name": "x", "colour": "red"}, 422, "input-validation", ["colour"]),
        (
            "POST",
            "",
            {"name": "x", "enabled": "yes", "definition": 3},
            422,
            "input-validation",
            ["definition", "enabled"],
        ),
        ("POST", "", {"name": "x", "key": "Not A Key"}, 422, "input-validation", ["key"]),
        ("POST", "", [1], 422, "input-validation", ["body"]),
        ("PATCH", "/{id}", {}, 422, "input-validation", ["body"]),
        ("PATCH", "/{id}", {"key": "other"}, 422, "input-validation", ["body", "key"]),
        ("GET", "/00000000-0000-4000-8000-000000000000", None, 404, "not-found", None),
        ("PATCH", "/00000000-0000-4000-8000-000000000000", {"name": "x"}, 404, "not-found", None),
        ("DELETE", "/00000000-0000-4000-8000-000000000000", None, 404, "not-found", None),
        ("GET", "/" + "x" * 256, None, 422, "input-validation", ["id"]),
    ],
)
def test_the_error_matrix(client, method, suffix, body, status, kind, fields):
    existing = create(client, "Existing")
    got, headers, answer = client.audiences(method, suffix.replace("{id}", existing["id"]), body)
    assert got == status, answer
    assert set(answer) == {"errors"} and answer["errors"] and all(e["type"] == kind for e in answer["errors"])
    if fields is not None:
        assert sorted(e["field"] for e in answer["errors"]) == fields
    if status == 404:
        assert answer["errors"][0]["message"] == f"Audience with id '{suffix[1:]}' not found."
    assert "X-RateLimit-Remaining" in headers


def test_conflict_payload_and_media_type(client):
    create(client, "VIP")
    status, _, answer = client.audiences("POST", body={"name": "VIP"})
    assert (status, answer["errors"][0]["type"]) == (409, "conflict")
    assert "key 'vip' already exists" in answer["errors"][0]["message"]
    big = json.dumps({"name": "x", "description": "d" * (1024 * 1024)})
    status, _, answer = client.audiences("POST", raw=big)
    assert (status, answer["errors"][0]["type"]) == (413, "payload-too-large")
    status, _, answer = client.audiences("POST", body={"name": "y"}, headers={"content-type": "text/plain"})
    assert (status, answer["errors"][0]["type"]) == (415, "unsupported-media-type")
    status, _, _ = client.audiences(
        "POST", body={"name": "z"}, headers={"content-type": "application/vnd.segment.v1alpha+json"}
    )
    assert status == 200


@pytest.mark.parametrize("token", ["", "Bearer nope", "pa_prv_wrong-scheme", "public"])
def test_no_valid_private_token_is_401(client, demo, token):
    if token == "public":
        token = f"Bearer {demo['DEMO_PUBLIC_KEY']}"
    status, headers, answer = client.call(
        "GET", "/spaces/demo/audiences", headers={"authorization": token} if token else {"authorization": ""}
    )
    assert (status, answer["errors"][0]["type"]) == (401, "unauthorized")
    assert "X-RateLimit-Remaining" not in headers  # no caller, no limit to report


def test_another_tenants_space_and_audience_are_not_found(api, client):
    theirs = create(client, "Secret")
    other = other_tenant(api)
    for method, suffix, body in [
        ("GET", "", None),
        ("GET", f"/{theirs['id']}", None),
        ("PATCH", f"/{theirs['id']}", {"name": "x"}),
        ("DELETE", f"/{theirs['id']}", None),
    ]:
        status, _, answer = other.call(method, f"/spaces/demo/audiences{suffix}", body)
        assert (status, answer["errors"][0]["type"]) == (404, "not-found"), (method, suffix)
        status, _, answer = other.audiences(method, suffix, body)
        assert status == (200 if suffix == "" else 404), (method, suffix)
    assert other.audiences()[2]["data"]["audiences"] == []
    assert client.audiences(suffix=f"/{theirs['id']}")[2]["data"]["audience"]["name"] == "Secret"
    missing_space = client.call("GET", "/spaces/nowhere/audiences")
    assert missing_space[0] == 404 and other.call("GET", "/spaces/demo/audiences")[2] == {
        "errors": [{"type": "not-found", "message": "Space with id 'demo' not found."}]
    }


def encodings(count: int, cursor: str | None) -> list[str]:
    dot = {"pagination.count": count} | ({"pagination.cursor": cursor} if cursor else {})
    bracket = {"pagination[count]": count} | ({"pagination[cursor]": cursor} if cursor else {})
    as_json = {"pagination": json.dumps({"count": count} | ({"cursor": cursor} if cursor else {}))}
    return [urllib.parse.urlencode(query) for query in (dot, bracket, as_json)]


@pytest.mark.parametrize("encoding", [0, 1, 2], ids=["dot", "deepObject", "json"])
def test_every_pagination_encoding_walks_every_audience_once_oldest_first(client, encoding):
    created = [create(client, f"A{n:02d}")["id"] for n in range(7)]
    seen, cursor, pages = [], None, []
    while True:
        status, _, body = client.audiences(suffix="?" + encodings(3, cursor)[encoding])
        assert status == 200, body
        seen += [a["id"] for a in body["data"]["audiences"]]
        pages.append(body["data"]["pagination"])
        cursor = body["data"]["pagination"].get("next")
        if cursor is None:
            break
    assert seen == created
    assert [p["totalEntries"] for p in pages] == [7, 7, 7]
    assert "previous" not in pages[0] and "previous" in pages[1]
    back = client.audiences(suffix="?" + encodings(3, pages[2]["previous"])[encoding])[2]["data"]
    assert [a["id"] for a in back["audiences"]] == created[3:6]
    assert back["pagination"]["current"] == pages[2]["previous"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("pagination.count=0", "pagination.count"),
        ("pagination.count=201", "pagination.count"),
        ("pagination[count]=many", "pagination.count"),
        ("pagination.cursor=forged", "pagination.cursor"),
        ("pagination=%7Bnot-json", "pagination"),
    ],
)
def test_malformed_pagination_is_422_naming_the_field(client, query, field):
    status, _, answer = client.audiences(suffix=f"?{query}")
    assert status == 422 and [e["field"] for e in answer["errors"]] == [field]


def test_a_cursor_of_another_tenant_or_edited_is_refused(api, client):
    for n in range(3):
        create(client, f"A{n}")
    cursor = client.audiences(suffix="?pagination.count=1")[2]["data"]["pagination"]["next"]
    other = other_tenant(api)
    assert other.audiences(suffix=f"?pagination.cursor={cursor}")[0] == 422
    edited = cursor[:-1] + ("0" if cursor[-1] != "0" else "1")
    assert client.audiences(suffix=f"?pagination.cursor={edited}")[0] == 422


def forged(payload: bytes, tenant_id: str = "demo") -> str:
    """A cursor anyone can make: its checksum is keyed by the tenant id, which is public (the spaceId)."""
    from audiences.segment.audiences import _checksum

    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _checksum(tenant_id, payload)


@pytest.mark.parametrize(
    "payload",
    [
        b'"x"',
        b"[1,2,3]",
        b'["after",{"a":1}]',
        b'["before",5]',
        b"not json",
        b'["after","\\u0000zzz"]',
        b"\xff\xfe",  # not UTF-8
        b'["sideways",""]',
        b'["before",""]',
        b'["after","AUDIENCE#a|AUDIENCE#b"]',
        b'["after","2026-01-01T00:00:00.000000+00:00#not-a-uuid|AUDIENCE#a"]',
        b'["after","2026-01-01T00:00:00+00:00#00000000-0000-4000-8000-000000000000|AUDIENCE#a"]',
        b'["after","2026-01-01T00:00:00.000000+00:00#00000000-0000-4000-8000-000000000000|AUDIENCE#A"]',
    ],
)
def test_a_forged_cursor_with_a_valid_checksum_is_422_naming_the_cursor(client, payload):
    status, _, answer = client.audiences(suffix="?" + urllib.parse.urlencode({"pagination[cursor]": forged(payload)}))
    assert status == 422, answer
    assert [e["field"] for e in answer["errors"]] == ["pagination.cursor"]


def test_a_cursor_shaped_as_ours_but_made_by_hand_positions_the_listing(client):
    """Validation refuses only what no listing could have made: a well-formed position is followed."""
    created = [create(client, f"A{n}") for n in range(3)]
    next_cursor = client.audiences(suffix="?pagination.count=1")[2]["data"]["pagination"]["next"]
    encoded = next_cursor.rpartition(".")[0]
    payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    status, _, answer = client.audiences(suffix="?pagination.count=1&pagination.cursor=" + forged(payload))
    assert status == 200 and [a["id"] for a in answer["data"]["audiences"]] == [created[1]["id"]]


def test_rate_limit_headers_429_and_nothing_changes(client, setting):
    setting("SEGMENT_RATE_LIMITS", "create=2")
    statuses = [client.audiences("POST", body={"name": f"n{n}"})[0] for n in range(2)]
    status, headers, answer = client.audiences("POST", body={"name": "n2"})
    assert statuses == [200, 200] and status == 429
    assert answer["errors"][0]["type"] == "RequestError" and answer["errors"][0]["message"] == "Too many requests"
    assert answer["errors"][0]["data"]["consumedPoints"] == 3 and answer["errors"][0]["data"]["remainingPoints"] == 0
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Consumed"], headers["X-RateLimit-Remaining"]) == (
        "2",
        "3",
        "0",
    )
    assert 0 < int(headers["Retry-After"]) <= 60 and headers["X-RateLimit-Reset"].endswith(" GMT")
    assert [a["key"] for a in client.audiences()[2]["data"]["audiences"]] == ["n0", "n1"]  # n2 was not created


def test_an_unknown_path_under_spaces_is_segments_404_and_a_wrong_method_api_gateways_403(client):
    status, _, answer = client.call("GET", "/spaces/demo/audiences/x/members")
    assert (status, answer["errors"][0]["type"]) == (404, "not-found")
    assert "/spaces/{spaceId}/audiences" in answer["errors"][0]["message"]
    status, _, answer = client.call("PUT", "/spaces/demo/audiences")  # the resource exists; the method does not
    assert (status, answer) == (403, {"message": "Missing Authentication Token"})
