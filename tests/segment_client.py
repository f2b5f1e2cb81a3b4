"""Segment's Public API as its SDKs call it, for the tests of either backend."""

from __future__ import annotations

import json

from local.gateway import respond


class Segment:
    """Requests as Segment's SDKs send them: Bearer token, JSON bodies, the space in the path."""

    def __init__(self, api, token: str, space: str = "demo") -> None:
        self.api, self.token, self.space = api, token, space

    def call(self, method: str, path: str, body: object = None, headers: dict | None = None, raw: str | None = None):
        sent = {"authorization": f"Bearer {self.token}", "content-type": "application/json"} | (headers or {})
        data = raw.encode() if raw is not None else b"" if body is None else json.dumps(body).encode()
        status, answer_headers, payload = respond(self.api.router, method, path, list(sent.items()), data)
        return status, dict(answer_headers), json.loads(payload)

    def audiences(self, method: str = "GET", suffix: str = "", body: object = None, **kwargs):
        return self.call(method, f"/spaces/{self.space}/audiences{suffix}", body, **kwargs)


def create(client: Segment, name: str, **fields) -> dict:
    status, _, body = client.audiences("POST", body={"name": name, **fields})
    assert status == 200, body
    return body["data"]["audience"]
