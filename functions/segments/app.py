"""The management API (private key): ODP's segments and identifiers APIs, the imports activity log,
Segment's Public API audiences and Adobe Experience Platform's external audiences."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from routes import adobe_audiences, identifiers, imports, segment_audiences, segments

from audiences import (
    snapstart,  # noqa: F401  (registers what a SnapStart restore must redo)
    tracing,
)
from audiences.adobe import http as adobe_http
from audiences.odp import http as odp_http
from audiences.segment import http as segment_http

logger = Logger()
tracer = tracing.tracer()
app = APIGatewayRestResolver()
app.configure_openapi(
    title="Management API",
    security_schemes={**odp_http.SECURITY_SCHEMES, **segment_http.SECURITY_SCHEMES, **adobe_http.SECURITY_SCHEMES},
)
app.include_router(segments.router)
app.include_router(identifiers.router)
app.include_router(imports.router)
app.include_router(segment_audiences.router)
app.include_router(adobe_audiences.router)

ODP_SHAPES = {
    "/v3/segments": odp_http.segments_error,
    "/v3/schema": odp_http.schema_error,
    "/v3/imports": odp_http.segments_error,
}


@app.not_found
def unknown_path(_: Exception) -> Response:
    """Only the dialects' catch-all routes reach here: every other path the function serves is routed."""
    path = app.current_event.path
    if path.startswith(adobe_http.PREFIX):
        return adobe_http.error_response(adobe_http.unknown_path(path))
    return segment_http.error_response(app, segment_http.unknown_path(path))


@app.exception_handler(Exception)
def failed(error: Exception) -> Response:
    """Errors take the shape of the dialect the path belongs to."""
    path = app.current_event.path
    if path.startswith("/spaces/"):
        return segment_http.error_response(app, error)
    if path.startswith(adobe_http.PREFIX):
        return adobe_http.error_response(error)
    return odp_http.error_response(app, error, ODP_SHAPES)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)
