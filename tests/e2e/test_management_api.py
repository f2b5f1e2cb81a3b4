"""Every row of the segments and identifiers APIs, over HTTP on the local stack."""

from __future__ import annotations

import time


def segment(external_id: str, **extra) -> dict:
    return {"definition": {"external": {"external_audience_id": external_id}}, **extra}


def test_segments_api_rows(stack):
    key = stack.private_key
    created = stack.call("POST", "/v3/segments/e2e_rows", key=key, json=segment("e2e_rows_ext", description="d"))
    assert (created.status_code, created.json()) == (200, {"revision": 1})
    duplicate = stack.call("POST", "/v3/segments/e2e_rows", key=key, json=segment("other"))
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, 409)
    updated = stack.call("PUT", "/v3/segments/e2e_rows", key=key, json=segment("e2e_rows_ext", description="d2"))
    assert updated.json() == {"revision": 2}
    assert "e2e_rows" in stack.call("GET", "/v3/segments", key=key).json()["segment_ids"]

    event = {
        "type": "passthrough",
        "action": "qualify",
        "identifiers": {"fs_user_id": "rows-user"},
        "data": {"audience_id": "e2e_rows_ext", "ts": int(time.time())},
    }
    assert stack.call("POST", "/v3/events", key=stack.public_key, json=event).status_code == 202
    got = stack.call("GET", "/v3/segments/e2e_rows", key=key).json()
    assert (got["revision"], got["description"], got["size"]) == (2, "d2", 1)
    assert got["definition"] == {"external": {"external_audience_id": "e2e_rows_ext"}}

    valid = stack.call("POST", "/v3/segments/e2e_new:validate", key=key, json=segment("x"))
    assert (valid.status_code, valid.json()) == (200, {})
    invalid = stack.call("POST", "/v3/segments/e2e_new:validate", key=key, json={"definition": {"sql": "x"}})
    assert invalid.status_code == 400 and invalid.json()["details"]
    assert stack.call("GET", "/v3/segments/e2e_new", key=key).status_code == 404  # validate stored nothing

    assert stack.call("DELETE", "/v3/segments/e2e_rows", key=key).json() == {}
    gone = stack.call("DELETE", "/v3/segments/e2e_rows", key=key)
    assert (gone.status_code, gone.json()["code"]) == (404, 404)


def test_public_key_is_refused_everywhere_in_management(stack):
    calls = [
        ("GET", "/v3/segments"),
        ("GET", "/v3/segments/any"),
        ("POST", "/v3/segments/any"),
        ("PUT", "/v3/segments/any"),
        ("DELETE", "/v3/segments/any"),
        ("POST", "/v3/schema/identifiers"),
        ("GET", "/v3/schema/identifiers"),
    ]
    for method, path in calls:
        reply = stack.call(method, path, key=stack.public_key, json=segment("x"))
        assert (reply.status_code, reply.json()) == (403, {"message": "Forbidden"}), (method, path)


def test_identifiers_api_rows(stack):
    key = stack.private_key
    body = {"name": "e2e_account_id", "display_name": "E2E Account ID", "merge_confidence": "high", "messaging": False}
    created = stack.call("POST", "/v3/schema/identifiers", key=key, json=body)
    assert created.status_code == 201
    assert created.json()["customers"][0]["name"] == "e2e_account_id"
    duplicate = stack.call("POST", "/v3/schema/identifiers", key=key, json=body)
    assert duplicate.status_code == 400
    assert duplicate.json()["detail"]["invalids"] == [
        {"field": "customers.name", "reason": "already used by another object"}
    ]
    names = [i["name"] for i in stack.call("GET", "/v3/schema/identifiers", key=key).json()["identifiers"]]
    assert "e2e_account_id" in names

    time.sleep(1.2)  # the stack runs with AUTH_CACHE_SECONDS=1: the new field is now usable
    event = {
        "type": "passthrough",
        "action": "qualify",
        "identifiers": {"e2e_account_id": "acc-1"},
        "data": {"audience_id": "anything", "ts": int(time.time())},
    }
    assert stack.call("POST", "/v3/events", key=stack.public_key, json=event).status_code == 202
