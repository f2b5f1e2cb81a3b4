"""Request bodies the integration tests share."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from local.gateway import respond

CUSTOMER_QUERY = (
    "query($userId: String, $audiences: [String]) "
    "{customer(fs_user_id: $userId) {audiences(subset: $audiences) {edges {node {name state}}}}}"
)


def segment(external_id: str, description: str = "", metadata: dict | None = None) -> dict:
    return {
        "definition": {"external": {"external_audience_id": external_id}},
        "description": description,
        "metadata": metadata or {},
    }


def event(action: str, user: str, audience: str, ts: float, field: str = "fs_user_id") -> dict:
    return {
        "type": "passthrough",
        "action": action,
        "identifiers": {field: user},
        "data": {"audience_id": audience, "ts": ts},
    }


def customer_query(user: str, subset: list[str] | None = None) -> dict:
    variables: dict = {"userId": user}
    if subset is not None:
        variables["audiences"] = subset
    return {"query": CUSTOMER_QUERY, "variables": variables}


def audience_names(reply_body: dict) -> list[str]:
    return [edge["node"]["name"] for edge in reply_body["data"]["customer"]["audiences"]["edges"]]


# Segment's Tracking API: Engage's calls, and a POST as Segment's libraries send it.


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def basic(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


def tracking_post(
    api, path: str, body: object, write_key: str | None = None, headers: list | None = None, raw: bytes = b""
):
    """(status, answer, headers) of a Tracking API POST as Segment's libraries send it: JSON, Basic auth."""
    sent = [("Content-Type", "application/json")] if headers is None else headers
    if write_key is not None:
        sent = [*sent, ("Authorization", basic(write_key))]
    status, out_headers, data = respond(api.router, "POST", path, sent, raw or json.dumps(body).encode())
    return status, json.loads(data), dict(out_headers)


def entered(user: str, key: str, ts: float, event: str = "Audience Entered") -> dict:
    return {
        "type": "track",
        "userId": user,
        "event": event,
        "properties": {"audience_key": key, key: event == "Audience Entered"},
        "context": {"personas": {"computation_class": "audience", "computation_key": key, "space_id": "spa_1"}},
        "timestamp": iso(ts),
        "messageId": f"{user}-{key}-{event}-{ts}",
    }


def exited(user: str, key: str, ts: float) -> dict:
    return entered(user, key, ts, "Audience Exited")


def identified(user: str, key: str, member: bool, ts: float) -> dict:
    return {
        "type": "identify",
        "userId": user,
        "traits": {key: member, "email": f"{user}@example.com"},
        "context": {"personas": {"computation_class": "audience", "computation_key": key, "space_id": "spa_1"}},
        "timestamp": iso(ts),
    }
