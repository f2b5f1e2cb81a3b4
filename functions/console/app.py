"""The operator console (/console) and its API, the OpenAPI document of every REST function
(/openapi.json) and Swagger UI (/docs).

The document is merged from the functions' own resolvers, each of which Powertools describes
from its routes: this function's package holds the other functions' code (CodeUri functions/)
only to read their routes, never to serve them.
"""

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import Annotated

import aws_lambda_powertools.event_handler as event_handler
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths

from audiences import auth, catalog, importer, memberships, tracing
from audiences.console import http, views
from audiences.domain import ImportStatus, UserRef
from audiences.errors import InvalidInput
from audiences.ports.privacy import Subject
from audiences.privacy import requests

logger = Logger()
tracer = tracing.tracer()
app = APIGatewayRestResolver(enable_validation=True)
app.configure_openapi(title="Operator console API", security_schemes=http.SECURITY_SCHEMES)

HERE = Path(__file__).resolve().parent  # resolved: _imported_afresh compares module paths with it
FUNCTIONS = HERE.parent
STATIC = HERE / "static"
SWAGGER_UI = Path(event_handler.__file__).parent / "openapi" / "swagger_ui"  # Powertools ships it
ASSETS = {  # name -> (file, content type): nothing else is served, so no path reaches the disk
    "console": {
        "console.js": (STATIC / "console.js", "text/javascript; charset=utf-8"),
        "console.css": (STATIC / "console.css", "text/css; charset=utf-8"),
    },
    "docs": {
        "swagger-ui-bundle.min.js": (SWAGGER_UI / "swagger-ui-bundle.min.js", "text/javascript; charset=utf-8"),
        "swagger-ui.min.css": (SWAGGER_UI / "swagger-ui.min.css", "text/css; charset=utf-8"),
    },
}


def _page(content_type: str) -> dict:
    return {"tags": ["Pages"], "responses": {200: {"description": "The page or file", "content": {content_type: {}}}}}


API = {"tags": ["Operator console"], "security": http.SECURITY}


@cache
def _text(path: Path) -> str:
    """Read once per container: Swagger UI's script alone is 1.4 MB."""
    return path.read_text(encoding="utf-8")


def _file(path: Path, content_type: str) -> Response:
    """As text: API Gateway passes a binary (or gzipped) body through only for its binary media types."""
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_type,
        body=_text(path),
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def _asset(area: str, name: str) -> Response:
    if name not in ASSETS[area]:
        return http.error(HTTPStatus.NOT_FOUND, f"no such file: /{area}/{name}")
    return _file(*ASSETS[area][name])


@contextmanager
def _imported_afresh() -> Iterator[None]:
    """Locally every function shares this process, and a router the merge's resolvers included
    would be theirs from then on (`include_router` rebinds it): the merge imports the functions'
    code as new modules, and the ones being served are put back after."""

    def of_a_function(module) -> bool:
        return FUNCTIONS in Path(getattr(module, "__file__", None) or "/").parents

    served = {name: module for name, module in list(sys.modules.items()) if of_a_function(module)}
    for name in served:
        del sys.modules[name]
    try:
        yield
    finally:
        for name in [name for name, module in list(sys.modules.items()) if of_a_function(module)]:
            del sys.modules[name]
        sys.modules.update(served)


@cache
def openapi_json() -> str:
    """Every REST function's routes in one document; the dialects' errors are described in docs/api.md."""
    merge = OpenAPIMerge(
        title="Passthrough Audiences",
        version="1",
        description="ODP's, Segment's and Adobe's APIs over one store of audiences, and the operator console's.",
        security_schemes=http.SECURITY_SCHEMES,
        on_conflict="error",
    )
    for app_file in sorted(FUNCTIONS.glob("*/app.py")):
        if app_file.parent != HERE and "APIGatewayRestResolver(" in app_file.read_text():
            merge.add_file(app_file)
    merge.add_schema(app.get_openapi_schema())
    with _imported_afresh():
        return merge.get_openapi_json_schema()


@app.get("/openapi.json", summary="This OpenAPI document", **_page("application/json"))
def openapi_document():
    return Response(status_code=HTTPStatus.OK, content_type=content_types.APPLICATION_JSON, body=openapi_json())


@app.get("/docs", summary="Swagger UI of every API", **_page("text/html"))
def swagger_ui():
    return _file(STATIC / "docs.html", "text/html; charset=utf-8")


@app.get("/docs/<name>", summary="Swagger UI's script and style", **_page("text/javascript"))
def swagger_asset(name: str):
    return _asset("docs", name)


@app.get("/console", summary="The operator console", **_page("text/html"))
def console_page():
    return _file(STATIC / "index.html", "text/html; charset=utf-8")


@app.get("/console/<name>", summary="The console's script and style", **_page("text/javascript"))
def console_asset(name: str):
    return _asset("console", name)


@app.get("/console/api/audiences", summary="Every audience, of every dialect, with its exact size", **API)
def list_audiences() -> views.AudienceList:
    principal = http.authenticate(app)
    audiences = catalog.list_audiences(principal.tenant_id)
    sizes = memberships.audience_sizes(principal.tenant_id, [a.external_id for a in audiences])
    rows = [views.audience_row(a, sizes[a.external_id]) for a in audiences]
    return views.AudienceList(audiences=sorted(rows, key=lambda row: row.name.lower()))


@app.get("/console/api/audiences/<audience_id>/sizes", summary="An audience's size after each import, and now", **API)
def size_history(audience_id: str) -> views.SizeHistory:
    principal = http.authenticate(app)
    tenant_id = principal.tenant_id
    audience = catalog.get_audience_by_id(tenant_id, audience_id)
    records, _ = importer.activity(tenant_id, audience.key, ImportStatus.SUCCESS, None, views.HISTORY_POINTS)
    size = memberships.audience_size(tenant_id, audience.external_id)
    return views.size_history(audience, records, size, time.time())


@app.get("/console/api/activity", summary="Imports and Adobe runs, newest first", **API)
def activity(
    audience: Annotated[str | None, Query(description="only this audience key")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> views.ActivityList:
    principal = http.authenticate(app)
    records, next_cursor = importer.activity(principal.tenant_id, audience, None, cursor, limit)
    return views.ActivityList(activity=[views.activity_row(r) for r in records], next_cursor=next_cursor)


@app.get("/console/api/customers", summary="Which audiences a customer is in, and since when", **API)
def customer(
    field: Annotated[str, Query(min_length=1, max_length=64, description="an identifier field, e.g. email")],
    value: Annotated[str, Query(min_length=1, max_length=1024)],
) -> views.Customer:
    principal = http.authenticate(app)
    tenant = auth.tenant_of(principal)
    if field not in tenant.identifiers:
        known = ", ".join(sorted(tenant.identifiers))
        raise InvalidInput(f"{field!r} is not an identifier field of this tenant: use one of {known}")
    return views.customer(field, value, memberships.customer_audiences(tenant.tenant_id, UserRef(field, value)))


@app.get("/console/api/privacy", summary="Privacy requests, newest first: all, or those naming one subject", **API)
def privacy_requests(
    field: Annotated[str | None, Query(min_length=1, max_length=64, description="a subject's identifier field")] = None,
    value: Annotated[str | None, Query(min_length=1, max_length=1024, description="and its value")] = None,
) -> views.PrivacyList:
    principal = http.authenticate(app)
    if (field is None) != (value is None):
        raise InvalidInput("send field and value together, or neither")
    found = requests.every(principal.tenant_id)
    if field is not None:
        subject = Subject(field, value)
        found = [s.request for s in requests.with_subjects(principal.tenant_id, found) if subject in s.subjects]
    return views.PrivacyList(requests=[views.privacy_row(r) for r in reversed(found)])


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response:
    """Powertools checked the query against the route's signature: say which parameter and why."""
    problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in error.errors())
    return http.error(HTTPStatus.BAD_REQUEST, f"invalid request: {problems}")


@app.exception_handler(Exception)
def failed(error: Exception) -> Response:
    return http.error_response(error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)
