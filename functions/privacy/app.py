"""The privacy APIs (private key): ODP's Compliance API, Segment's Deletion and Suppression API and Adobe's
Privacy Service, each over the core's privacy requests, which PrivacyFunction runs (worker.py)."""

import adobe_privacy
import odp_compliance
import segment_regulations
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from audiences import tracing
from audiences.adobe import http as adobe_http
from audiences.adobe import privacy as adobe_privacy_dialect
from audiences.odp import http as odp_http
from audiences.segment import http as segment_http

logger = Logger()
tracer = tracing.tracer()
app = APIGatewayRestResolver()
app.configure_openapi(
    title="Privacy APIs",
    security_schemes={**odp_http.SECURITY_SCHEMES, **segment_http.SECURITY_SCHEMES, **adobe_http.SECURITY_SCHEMES},
)
app.include_router(odp_compliance.router)
app.include_router(segment_regulations.router)
app.include_router(adobe_privacy.router)

ODP_SHAPES = {"/v3/compliance": odp_http.schema_error}


@app.not_found
def unknown_path(_: Exception) -> Response:
    """Only the dialects' catch-all routes reach here: every other path the function serves is routed."""
    path = app.current_event.path
    if path.startswith(adobe_privacy_dialect.PREFIX):
        return adobe_privacy_dialect.error_response(adobe_privacy_dialect.unknown_path(path))
    return segment_http.error_response(app, segment_regulations.unknown_path(path))


@app.exception_handler(Exception)
def failed(error: Exception) -> Response:
    """Errors take the shape of the dialect the path belongs to."""
    path = app.current_event.path
    if path.startswith(adobe_privacy_dialect.PREFIX):
        return adobe_privacy_dialect.error_response(error)
    if path.startswith("/v3/"):
        return odp_http.error_response(app, error, ODP_SHAPES)
    return segment_http.error_response(app, error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)
