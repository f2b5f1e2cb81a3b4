"""PUT /v3/segments/{segment_id} through the segments handler on moto."""

from __future__ import annotations

import pytest

from audiences.wiring import stores
from tests.integration.helpers import segment


def put(api, key, segment_id, body):
    return api.call("PUT", f"/v3/segments/{segment_id}", body, key=key)


def test_create_then_update_counts_revisions(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    assert put(api, key, "vip_users", segment("vip")).body == {"revision": 1}
    assert put(api, key, "vip_users", segment("vip", description="VIPs")).body == {"revision": 2}
    assert put(api, key, "vip_users", segment("vip2", description="VIPs")).body == {"revision": 3}
    stored = stores().catalog.get_audience("demo", "vip_users")
    assert (stored.external_id, stored.description, stored.revision) == ("vip2", "VIPs", 3)


def test_unchanged_put_keeps_the_revision(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    put(api, key, "vip_users", segment("vip", metadata={"owner": "crm"}))
    reply = put(api, key, "vip_users", segment("vip", metadata={"owner": "crm"}))
    assert (reply.status, reply.body) == (200, {"revision": 1})


def test_external_id_defaults_to_the_segment_id(api, demo):
    reply = put(api, demo["DEMO_PRIVATE_KEY"], "vip_users", {"definition": {"external": {}}})
    assert reply.status == 200
    assert stores().catalog.get_audience("demo", "vip_users").external_id == "vip_users"


def test_external_id_is_unique_per_tenant(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    put(api, key, "first", segment("shared"))
    reply = put(api, key, "second", segment("shared"))
    assert reply.status == 409
    assert reply.body == {
        "code": 409,
        "message": "external_audience_id 'shared' is already used by segment 'first'",
        "details": [],
    }
    assert stores().catalog.get_audience("demo", "second") is None


def test_moving_external_id_frees_the_old_one(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    put(api, key, "first", segment("old"))
    put(api, key, "first", segment("new"))
    assert put(api, key, "second", segment("old")).status == 200
    assert put(api, key, "third", segment("new")).status == 409


def test_public_key_cannot_manage_segments(api, demo):
    reply = put(api, demo["DEMO_PUBLIC_KEY"], "vip_users", segment("vip"))
    assert (reply.status, reply.body) == (403, {"message": "Forbidden"})
    assert stores().catalog.get_audience("demo", "vip_users") is None


@pytest.mark.parametrize(
    ("segment_id", "body", "details"),
    [
        (
            "vip",
            {"definition": {"filter": {}}},
            [
                'definition: must be {"external": {"external_audience_id": "..."}}: '
                "only external (passthrough) segments are supported"
            ],
        ),
        (
            "vip",
            {"definition": {"external": {"external_audience_id": 7}}},
            ["definition: external.external_audience_id must be a non-empty string"],
        ),
        (
            "vip",
            segment("vip") | {"name": "x"},
            ["name: unknown field: a segment has definition, description, metadata"],
        ),
        ("vip", segment("vip", metadata={"a": 1}), ["metadata: must be an object of string values"]),
        (
            "vip",
            {"description": 5, "metadata": []},
            [
                'definition: is required: {"external": {"external_audience_id": "..."}}',
                "description: must be a string",
                "metadata: must be an object of string values",
            ],
        ),
    ],
)
def test_invalid_segment_lists_every_problem_in_odp_shape(api, demo, segment_id, body, details):
    reply = put(api, demo["DEMO_PRIVATE_KEY"], segment_id, body)
    assert reply.status == 400
    assert reply.body["code"] == 400
    assert reply.body["details"] == details
    assert reply.body["message"] == "invalid segment: " + "; ".join(details)
    assert stores().catalog.list_audiences("demo") == []


@pytest.mark.parametrize(
    ("segment_id", "body", "message"),
    [
        ("VIP", segment("vip"), "segment id 'VIP' is invalid: use 1 to 64 characters of a-z, 0-9 and _"),
        ("vip", [], "the body must be a JSON object"),
        ("vip", None, "the request body is empty"),
    ],
)
def test_request_level_errors_have_a_message(api, demo, segment_id, body, message):
    reply = put(api, demo["DEMO_PRIVATE_KEY"], segment_id, body)
    assert (reply.status, reply.body["details"]) == (400, [])
    assert message in reply.body["message"]


def test_get_list_and_delete(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    put(api, key, "vip_users", segment("vip", description="VIPs", metadata={"owner": "crm"}))
    put(api, key, "churn", segment("churn"))
    assert api.call("GET", "/v3/segments", key=key).body == {"segment_ids": ["churn", "vip_users"]}
    got = api.call("GET", "/v3/segments/vip_users", key=key)
    assert got.status == 200
    assert {k: got.body[k] for k in ("revision", "description", "metadata", "definition", "size")} == {
        "revision": 1,
        "description": "VIPs",
        "metadata": {"owner": "crm"},
        "definition": {"external": {"external_audience_id": "vip"}},
        "size": 0,
    }
    assert got.body["created_at"] == got.body["updated_at"]
    assert api.call("DELETE", "/v3/segments/vip_users", key=key).body == {}
    assert api.call("GET", "/v3/segments", key=key).body == {"segment_ids": ["churn"]}
    missing = api.call("GET", "/v3/segments/vip_users", key=key)
    assert (missing.status, missing.body) == (
        404,
        {"code": 404, "message": "segment 'vip_users' does not exist", "details": []},
    )
    assert api.call("DELETE", "/v3/segments/vip_users", key=key).status == 404


def test_post_creates_once(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    assert api.call("POST", "/v3/segments/vip_users", segment("vip"), key=key).body == {"revision": 1}
    again = api.call("POST", "/v3/segments/vip_users", segment("other"), key=key)
    assert (again.status, again.body["message"]) == (409, "segment 'vip_users' already exists")
    assert stores().catalog.get_audience("demo", "vip_users").external_id == "vip"


def test_validate_checks_without_storing(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    assert api.call("POST", "/v3/segments/vip_users:validate", segment("vip"), key=key).body == {}
    bad = api.call("POST", "/v3/segments/vip_users:validate", {"definition": {}}, key=key)
    assert bad.status == 400 and bad.body["details"][0].startswith("definition: must be")
    assert stores().catalog.list_audiences("demo") == []


def test_size_counts_qualified_members_and_survives_delete_and_recreate(api, demo):
    from tests.integration.helpers import event

    key = demo["DEMO_PRIVATE_KEY"]
    put(api, key, "vip_users", segment("vip"))
    events = [event("qualify", f"u{n}", "vip", 1_748_851_070) for n in range(3)]
    api.call("POST", "/v3/events", [*events, event("disqualify", "u0", "vip", 1_748_851_071)], key=key)
    assert api.call("GET", "/v3/segments/vip_users", key=key).body["size"] == 2
    api.call("DELETE", "/v3/segments/vip_users", key=key)
    assert put(api, key, "vip_again", segment("vip")).body == {"revision": 1}  # the external id is free again
    assert api.call("GET", "/v3/segments/vip_again", key=key).body["size"] == 2  # and its members come back


def test_concurrent_updates_never_lose_a_revision(memory, demo):
    from concurrent.futures import ThreadPoolExecutor

    from audiences import catalog
    from audiences.domain import OPERATOR, Audience

    catalog.put_audience("demo", Audience("vip_users", "vip"), OPERATOR)
    with ThreadPoolExecutor(max_workers=4) as pool:
        revisions = list(
            pool.map(lambda n: catalog.put_audience("demo", Audience("vip_users", "vip", f"v{n}"), OPERATOR), range(4))
        )
    assert sorted(revisions) == [2, 3, 4, 5]
    assert stores().catalog.get_audience("demo", "vip_users").revision == 5


def test_moving_external_id_onto_a_taken_one_is_a_conflict_that_changes_nothing(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    put(api, key, "first", segment("a"))
    put(api, key, "second", segment("b"))
    reply = put(api, key, "second", segment("a"))
    assert (reply.status, reply.body["message"]) == (409, "external_audience_id 'a' is already used by segment 'first'")
    assert stores().catalog.get_audience("demo", "second").external_id == "b"
