"""Segment's Public API audiences over HTTP on the local stack, as Segment's SDKs send requests.

The Python SDK (`segment_public_api`) is not on PyPI, so `PythonSdkWire` reproduces its
requests: Bearer auth, its Accept and Content-Type, and `pagination` as JSON in the query.
The TypeScript and Go SDKs send deepObject brackets; curl users the dot form.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from tests.e2e.conftest import new_key

AUDIENCES = 450


class PythonSdkWire:
    def __init__(self, base_url: str, token: str, space: str) -> None:
        self.base = f"{base_url}/spaces/{space}/audiences"
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.segment.v1+json",
                "Content-Type": "application/vnd.segment.v1alpha+json",
                "User-Agent": "OpenAPI-Generator/58.0.0/python",
            }
        )

    def create(self, body: dict) -> requests.Response:
        return self.session.post(self.base, data=json.dumps(body), timeout=10)

    def get(self, audience_id: str) -> requests.Response:
        return self.session.get(f"{self.base}/{audience_id}", timeout=10)

    def update(self, audience_id: str, body: dict) -> requests.Response:
        return self.session.patch(f"{self.base}/{audience_id}", data=json.dumps(body), timeout=10)

    def delete(self, audience_id: str) -> requests.Response:
        return self.session.delete(f"{self.base}/{audience_id}", timeout=10)

    def list(self, count: int, cursor: str | None) -> requests.Response:
        pagination = {"count": count} | ({"cursor": cursor} if cursor else {})
        return self.session.get(self.base, params={"pagination": json.dumps(pagination)}, timeout=10)


@pytest.fixture(scope="module")
def tenant(stack, tmp_path_factory):
    """A tenant of its own, with AUDIENCES audiences made through ODP's segments API."""
    from tests.e2e.conftest import run_admin

    home = tmp_path_factory.mktemp("home")

    def admin(*args):
        return run_admin(stack.state_dir.parent, home, "--local", *args)

    assert admin("tenants", "create", "segsdk").returncode == 0
    private, public = new_key(admin, "segsdk", "private"), new_key(admin, "segsdk", "public")
    session = requests.Session()
    for n in range(AUDIENCES):
        body = {"definition": {"external": {"external_audience_id": f"ext_{n}"}}}
        reply = session.put(
            f"{stack.api_url}/v3/segments/odp_{n:03d}", json=body, headers={"x-api-key": private}, timeout=10
        )
        assert reply.status_code == 200, reply.text
    return {"private": private, "public": public}


def walk(fetch) -> list[str]:
    seen, cursor = [], None
    while True:
        reply = fetch(cursor)
        assert reply.status_code == 200, reply.text
        data = reply.json()["data"]
        seen += [audience["key"] for audience in data["audiences"]]
        cursor = data["pagination"].get("next")
        if not cursor:
            return seen


def test_every_encoding_walks_every_audience_exactly_once_while_more_are_created(stack, tenant):
    sdk = PythonSdkWire(stack.api_url, tenant["private"], "segsdk")
    base = f"{stack.api_url}/spaces/segsdk/audiences"
    auth = {"Authorization": f"Bearer {tenant['private']}"}

    def dot(cursor):
        return requests.get(
            base,
            params={"pagination.count": 200} | ({"pagination.cursor": cursor} if cursor else {}),
            headers=auth,
            timeout=10,
        )

    def brackets(cursor):
        return requests.get(
            base,
            params={"pagination[count]": 200} | ({"pagination[cursor]": cursor} if cursor else {}),
            headers=auth,
            timeout=10,
        )

    created_meanwhile: list[str] = []

    def create_more():
        for n in range(20):
            reply = sdk.create({"name": f"Meanwhile {n}"})
            assert reply.status_code == 200, reply.text
            created_meanwhile.append(reply.json()["data"]["audience"]["key"])

    creator = threading.Thread(target=create_more)
    creator.start()
    walks = {
        name: walk(fetch)
        for name, fetch in [("json", lambda c: sdk.list(200, c)), ("dot", dot), ("brackets", brackets)]
    }
    creator.join()
    originals = [f"odp_{n:03d}" for n in range(AUDIENCES)]
    for name, seen in walks.items():
        assert len(seen) == len(set(seen)), f"{name}: an audience was listed twice"
        assert seen[:AUDIENCES] == originals, f"{name}: not every audience, oldest first"
        assert set(seen[AUDIENCES:]) <= set(created_meanwhile)
    last = sdk.list(200, None).json()["data"]["pagination"]
    assert last["totalEntries"] == AUDIENCES + 20


def test_create_qualify_disable_delete_across_dialects(stack, tenant):
    sdk = PythonSdkWire(stack.api_url, tenant["private"], "segsdk")
    created = sdk.create({"name": "Cross dialect", "key": "cross", "definition": {"query": "x", "type": "USERS"}})
    assert created.status_code == 200 and created.headers["Content-Type"] == "application/json"
    audience = created.json()["data"]["audience"]
    assert int(created.headers["X-RateLimit-Remaining"]) < int(created.headers["X-RateLimit-Limit"])

    event = {
        "type": "passthrough",
        "action": "qualify",
        "identifiers": {"fs_user_id": "sdk-user"},
        "data": {"audience_id": "cross", "ts": int(time.time())},
    }
    assert stack.call("POST", "/v3/events", key=tenant["public"], json=event).status_code == 202
    assert sdk.get(audience["id"]).json()["data"]["audience"]["size"] == {"count": 1, "type": "USERS"}
    query = {"query": '{customer(fs_user_id: "sdk-user") {audiences {edges {node {name}}}}}'}

    def names():
        answer = stack.call("POST", "/v3/graphql", key=tenant["public"], json=query).json()
        return [edge["node"]["name"] for edge in answer["data"]["customer"]["audiences"]["edges"]]

    assert names() == ["cross"]
    assert sdk.update(audience["id"], {"enabled": False}).json()["data"]["audience"]["status"] == "Disabled"
    assert names() == []
    assert sdk.update(audience["id"], {"enabled": True}).status_code == 200
    assert names() == ["cross"]
    assert sdk.delete(audience["id"]).json() == {"data": {"status": "SUCCESS"}}
    assert stack.call("GET", "/v3/segments/cross", key=tenant["private"]).status_code == 404
    missing = sdk.get(audience["id"])
    assert missing.status_code == 404 and missing.json() == {
        "errors": [{"type": "not-found", "message": f"Audience with id '{audience['id']}' not found."}]
    }
