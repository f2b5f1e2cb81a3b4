"""/v3/graphql: ODP's GraphQL API for audience membership, and an explorer page for people."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths

from audiences import (
    auth,
    snapstart,  # noqa: F401  (registers what a SnapStart restore must redo)
    tracing,
)
from audiences.domain import Scope
from audiences.odp import graphql_api, http
from audiences.openapi import json_body

logger = Logger()
tracer = tracing.tracer()
app = APIGatewayRestResolver()
app.configure_openapi(title="ODP GraphQL API", security_schemes=http.SECURITY_SCHEMES)
http.install_error_handlers(app, {"/": http.graphql_error})


@app.post(
    "/v3/graphql",
    summary="Which audiences a customer is in",
    tags=["ODP GraphQL"],
    security=http.SECURITY,
    openapi_extensions=json_body(
        {"query": '{customer(fs_user_id: "user-123") {audiences {edges {node {name state}}}}}'},
        "A GraphQL query over customer; the explorer (GET) shows the schema.",
    ),
)
@tracer.capture_method
def query():
    principal = http.authenticate(app, Scope.PUBLIC)
    body = http.json_text(app, graphql_api.MAX_BODY_BYTES, "send a smaller query")
    return graphql_api.execute(body, auth.tenant_of(principal))


@app.get(
    "/v3/graphql",
    summary="The GraphQL explorer page (needs no key)",
    tags=["ODP GraphQL"],
    responses={
        200: {"description": "The GraphiQL page", "content": {content_types.TEXT_HTML: {"schema": {"type": "string"}}}}
    },
)
def explorer():
    """A static GraphiQL page: it holds no data, so it needs no key (queries it sends do)."""
    return Response(status_code=200, content_type=content_types.TEXT_HTML, body=graphql_api.explorer_html())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)
