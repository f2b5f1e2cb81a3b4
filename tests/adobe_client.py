"""Adobe's external-audience API as its clients call it, for the tests of either backend."""

from __future__ import annotations

import gzip
import json

from local.gateway import respond
from tests.imports_helpers import upload

PREFIX = "/data/core/ais"


class Adobe:
    """Requests as Experience Platform's documented curl calls send them: all four headers."""

    def __init__(self, api, token: str, org: str = "demo@AdobeOrg", sandbox: str = "prod") -> None:
        self.api = api
        self.headers = {
            "Authorization": f"Bearer {token}",
            "x-api-key": "acme-client-id",
            "x-gw-ims-org-id": org,
            "x-sandbox-name": sandbox,
            "Content-Type": "application/json",
        }

    def call(self, method: str, path: str, body: object = None, headers: dict | None = None, drop: str = ""):
        sent = {name.lower(): value for name, value in (self.headers | (headers or {})).items() if name != drop}
        data = b"" if body is None else json.dumps(body).encode()
        status, _, payload = respond(self.api.router, method, PREFIX + path, list(sent.items()), data)
        return status, json.loads(payload) if payload else None

    def create(self, **fields) -> dict:
        status, answer = self.call("POST", "/external-audience/", request(**fields))
        assert status == 202, answer
        return answer


def request(**fields) -> dict:
    return {
        "name": "Sample external audience",
        "description": "A sample version of an external audience",
        "fields": [
            {"name": "ppid", "type": "string", "identityNs": "email"},
            {"name": "list_id", "type": "string", "labels": ["core/C2", "custom/deep"]},
            {"name": "delete", "type": "number"},
        ],
        "sourceSpec": {"path": "activation/sample-source/example.csv", "type": "file", "sourceType": "Cloud Storage"},
        "ttlInDays": "40",
        "labels": ["core/C1"],
        "audienceType": "people",
        "originName": "CUSTOM_UPLOAD",
    } | fields


FIELDS = [{"name": "email", "type": "string", "identityNs": "Email"}, {"name": "tier", "type": "string"}]


def new_audience(adobe: Adobe, name: str = "Drops", folder: str = "drops") -> str:
    body = request(
        name=name, customAudienceId=name.lower(), fields=FIELDS, sourceSpec={"path": folder, "type": "folder"}
    )
    return adobe.create(**{k: v for k, v in body.items() if k not in ("name", "description")} | {"name": name})[
        "operationId"
    ]


def put_source(name: str, text: str, folder: str = "drops", gzipped: bool = False) -> None:
    upload(gzip.compress(text.encode()) if gzipped else text.encode(), f"demo/sources/adobe/prod/{folder}/{name}")


def run(adobe: Adobe, audience_id: str, start: int, **window) -> dict:
    status, started = adobe.call(
        "POST", f"/external-audience/{audience_id}/runs", {"dataFilterStartTime": start, **window}
    )
    assert status == 200, started
    return started
