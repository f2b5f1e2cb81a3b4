"""Request bodies the integration tests share."""

from __future__ import annotations

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
