"""The OpenAPI document the stack serves: valid OpenAPI, and exactly the template's routes."""

from __future__ import annotations

import json
import sys

import pytest
from openapi_spec_validator import validate

from local import lambdas
from tests.conftest import FUNCTIONS

CONSOLE = next(function for function in FUNCTIONS if function.logical_id == "ConsoleFunction")
METHODS = {"get", "put", "post", "delete", "patch"}
UNSECURED = {("GET", "/v3/graphql")}  # the explorer page; Pages are the rest


@pytest.fixture(scope="module")
def document() -> dict:
    lambdas.load(CONSOLE)
    return json.loads(sys.modules[f"lambda_{CONSOLE.logical_id}"].openapi_json())


def operations(document: dict) -> dict[tuple[str, str], dict]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_the_document_is_valid_openapi(document):
    validate(document)  # raises, naming what is wrong
    assert document["openapi"].startswith("3.")


def test_every_routed_operation_is_documented_and_nothing_else(document):
    """Catch-alls ({proxy+}) are not operations: they answer a dialect's 404 for paths it does not have."""
    routed = {(route.method, route.path) for f in FUNCTIONS for route in f.routes if "{proxy+}" not in route.path}
    documented = set(operations(document))
    assert documented - routed == set(), "documented but not routed"
    assert routed - documented == set(), "routed but not documented"


def test_every_operation_says_how_it_authenticates_with_a_declared_scheme(document):
    schemes = set(document["components"]["securitySchemes"])
    for (method, path), operation in operations(document).items():
        if "Pages" in operation.get("tags", []) or (method, path) in UNSECURED:
            assert "security" not in operation, (method, path)
            continue
        assert operation.get("security"), f"{method} {path} names no security scheme"
        for requirement in operation["security"]:
            assert set(requirement) <= schemes, (method, path, requirement)


def test_every_operation_has_a_summary_a_tag_and_a_unique_id(document):
    ids = [operation["operationId"] for operation in operations(document).values()]
    assert len(ids) == len(set(ids))
    for key, operation in operations(document).items():
        assert operation.get("summary") and operation.get("tags"), key


def test_a_body_example_is_given_for_every_operation_that_takes_a_body(document):
    for (method, path), operation in operations(document).items():
        if method in ("POST", "PUT", "PATCH") and not path.endswith("/extend-ttl/{audience_id}"):
            content = operation["requestBody"]["content"]
            assert all("example" in media for media in content.values()), (method, path)
