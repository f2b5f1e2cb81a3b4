"""The management API (private key): ODP's segments and identifiers APIs, and the imports activity log."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from routes import identifiers, imports, segments

from audiences.odp import http

logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver()
app.include_router(segments.router)
app.include_router(identifiers.router)
app.include_router(imports.router)
http.install_error_handlers(
    app, {"/v3/segments": http.segments_error, "/v3/schema": http.schema_error, "/v3/imports": http.segments_error}
)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)
