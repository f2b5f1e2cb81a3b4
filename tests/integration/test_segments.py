"""PUT /v3/segments/{segment_id} through the segments handler on moto."""

from __future__ import annotations

import pytest

from audiences.stores import catalog as catalog_store
from tests.integration.helpers import segment


def put(api, key, segment_id, body):
    return api.call("PUT", f"/v3/segments/{segment_id}", body, key=key)


def test_create_then_update_counts_revisions(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    assert put(api, key, "vip_users", segment("vip")).body == {"revision": 1}
    assert put(api, key, "vip_users", segment("vip", description="VIPs")).body == {"revision": 2}
    assert put(api, key, "vip_users", segment("vip2", description="VIPs")).body == {"revision": 3}
    stored = catalog_store.get_audience("demo", "vip_users")
    assert (stored.external_id, stored.description, stored.revision) == ("vip2", "VIPs", 3)


def test_unchanged_put_keeps_the_revision(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    put(api, key, "vip_users", segment("vip", metadata={"owner": "crm"}))
    reply = put(api, key, "vip_users", segment("vip", metadata={"owner": "crm"}))
    assert (reply.status, reply.body) == (200, {"revision": 1})


def test_external_id_defaults_to_the_segment_id(api, demo):
    reply = put(api, demo["DEMO_PRIVATE_KEY"], "vip_users", {"definition": {"external": {}}})
    assert reply.status == 200
    assert catalog_store.get_audience("demo", "vip_users").external_id == "vip_users"


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
    assert catalog_store.get_audience("demo", "second") is None


def test_moving_external_id_frees_the_old_one(api, demo):
    key = demo["DEMO_PRIVATE_KEY"]
    put(api, key, "first", segment("old"))
    put(api, key, "first", segment("new"))
    assert put(api, key, "second", segment("old")).status == 200
    assert put(api, key, "third", segment("new")).status == 409


def test_public_key_cannot_manage_segments(api, demo):
    reply = put(api, demo["DEMO_PUBLIC_KEY"], "vip_users", segment("vip"))
    assert (reply.status, reply.body) == (403, {"message": "Forbidden"})
    assert catalog_store.get_audience("demo", "vip_users") is None


@pytest.mark.parametrize(
    ("segment_id", "body", "message"),
    [
        ("VIP", segment("vip"), "segment id 'VIP' is invalid"),
        ("vip", {"definition": {"filter": {}}}, "only external (passthrough) segments are supported"),
        ("vip", {"definition": {"external": {"external_audience_id": 7}}}, "must be a non-empty string"),
        ("vip", segment("vip") | {"name": "x"}, "unknown field(s) name"),
        ("vip", segment("vip", metadata={"a": 1}), "metadata must be an object of string values"),
        ("vip", [], "the body must be a JSON object"),
    ],
)
def test_invalid_segment_is_rejected_in_odp_shape(api, demo, segment_id, body, message):
    reply = put(api, demo["DEMO_PRIVATE_KEY"], segment_id, body)
    assert reply.status == 400
    assert reply.body["code"] == 400 and reply.body["details"] == []
    assert message in reply.body["message"]
    assert catalog_store.list_audiences("demo") == []
