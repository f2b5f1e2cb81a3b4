"""Every request body example in the OpenAPI document works: sent as documented, it succeeds."""

from __future__ import annotations

import base64
import json
import sys

from local import lambdas
from local.gateway import respond
from tests.conftest import FUNCTIONS

CONSOLE = next(function for function in FUNCTIONS if function.logical_id == "ConsoleFunction")
PLACEHOLDERS = {("POST", "/v3/imports/upload-url/complete")}  # its example names an upload and ETags to fill in


def examples() -> list[tuple[str, str, dict]]:
    """(method, path, operation) of every operation with an example body, creations first."""
    lambdas.load(CONSOLE)
    document = json.loads(sys.modules[f"lambda_{CONSOLE.logical_id}"].openapi_json())
    found = [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation and (method.upper(), path) not in PLACEHOLDERS
    ]
    # What others need first: the ODP segment an upload names, each dialect's audience before its runs.
    return sorted(found, key=lambda op: ("{audience_id}" in op[1], "/v3/segments" not in op[1], op[0] != "POST", op[1]))


def auth_headers(operation: dict, key: str) -> list[tuple[str, str]]:
    """What the operation's security scheme asks for, with the tenant's private key."""
    schemes = set().union(*operation["security"])
    headers = {
        "odpApiKey": [("x-api-key", key)],
        "segmentToken": [("authorization", f"Bearer {key}")],
        "segmentWriteKey": [("authorization", "Basic " + base64.b64encode(f"{key}:".encode()).decode())],
        "adobeToken": [("authorization", f"Bearer {key}")],
        "adobeApiKey": [("x-api-key", "openapi_client")],
        "adobeOrg": [("x-gw-ims-org-id", "demo@AdobeOrg")],
        "adobeSandbox": [("x-sandbox-name", "prod")],
        "consoleKey": [("x-api-key", key)],
    }
    return [header for scheme in sorted(schemes) for header in headers[scheme]]


def test_every_documented_example_body_is_accepted(api, demo):
    created: dict[str, str] = {}  # dialect prefix -> the id of the audience its create example made
    operations = examples()
    assert len(operations) >= 20
    for method, path, operation in operations:
        media_type, content = next(iter(operation["requestBody"]["content"].items()))
        prefix = "/spaces" if path.startswith("/spaces") else path[:15]
        concrete = path.replace("{segment_id}", "vip_users").replace("{space_id}", "demo")
        concrete = concrete.replace("{framework}", "ccpa")
        if "{audience_id}" in path:
            concrete = concrete.replace("{audience_id}", created[prefix])
        headers = [("content-type", media_type), *auth_headers(operation, demo["DEMO_PRIVATE_KEY"])]

        status, _, body = respond(api.router, method, concrete, headers, json.dumps(content["example"]).encode())

        assert 200 <= status < 300, f"{method} {path}: {status} {body[:300]!r}"
        answer = json.loads(body) if body else {}
        if path in ("/spaces/{space_id}/audiences", "/data/core/ais/external-audience"):
            created[prefix] = answer["data"]["audience"]["id"] if prefix == "/spaces" else answer["operationId"]


def test_building_the_document_leaves_the_routes_being_served_as_they_were(api, demo):
    """Locally the functions share one process, whose routers the merge must not take over."""
    sys.modules[f"lambda_{CONSOLE.logical_id}"].openapi_json.cache_clear()
    assert respond(api.router, "GET", "/openapi.json", [], b"")[0] == 200

    bearer = [("authorization", f"Bearer {demo['DEMO_PRIVATE_KEY']}")]
    missing = "/spaces/demo/audiences/00000000-0000-4000-8000-000000000000"
    status, headers, _ = respond(api.router, "GET", missing, bearer, b"")

    # the route counts the call on its router, the error handler reports it from the app: the same resolver
    assert status == 404 and dict(headers)["X-RateLimit-Remaining"]


def test_every_get_without_parameters_is_served_as_the_document_says(api, demo):
    """The media type of each answer is one the document lists for that status (a page is not JSON)."""
    lambdas.load(CONSOLE)
    document = json.loads(sys.modules[f"lambda_{CONSOLE.logical_id}"].openapi_json())
    checked = []
    for path, item in document["paths"].items():
        operation = item.get("get")
        if operation is None or "{" in path or operation.get("parameters"):
            continue
        headers = auth_headers(operation, demo["DEMO_PRIVATE_KEY"]) if operation.get("security") else []
        status, answer_headers, _ = respond(api.router, "GET", path, headers, b"")
        served = dict(answer_headers)["Content-Type"].split(";")[0]
        documented = operation["responses"][str(status)].get("content", {})
        assert served in documented, f"GET {path}: {status} served as {served}, documented as {sorted(documented)}"
        checked.append(path)
    assert "/v3/graphql" in checked
