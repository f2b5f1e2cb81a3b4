"""The management API (private key): ODP's segments and identifiers APIs, the imports activity log,
and Segment's Public API audiences."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from routes import identifiers, imports, segment_audiences, segments

from audiences.odp import http as odp_http
from audiences.segment import http as segment_http

logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver()
app.include_router(segments.router)
app.include_router(identifiers.router)
app.include_router(imports.router)
app.include_router(segment_audiences.router)

ODP_SHAPES = {
    "/v3/segments": odp_http.segments_error,
    "/v3/schema": odp_http.schema_error,
    "/v3/imports": odp_http.segments_error,
}


@app.not_found
def unknown_path(_: Exception) -> Response:
    """Only /spaces/{proxy+} reaches here: every other path the function serves is routed."""
    return segment_http.error_response(app, segment_http.unknown_path(app.current_event.path))


@app.exception_handler(Exception)
def failed(error: Exception) -> Response:
    """Errors take the shape of the dialect the path belongs to."""
    if app.current_event.path.startswith("/spaces/"):
        return segment_http.error_response(app, error)
    return odp_http.error_response(app, error, ODP_SHAPES)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)
