"""/v3/segments: ODP's segments API for passthrough (external) audiences."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths

from audiences import auth, catalog
from audiences.domain import Scope
from audiences.odp import http
from audiences.odp.segments import parse_segment

logger = Logger()
tracer = Tracer()
app = APIGatewayRestResolver()
http.install_error_handlers(app, http.segments_error)


@app.put("/v3/segments/<segment_id>")
@tracer.capture_method
def put_segment(segment_id: str):
    principal = auth.authenticate(app.current_event.headers.get("x-api-key"), Scope.PRIVATE)
    logger.append_keys(tenant=principal.tenant_id)
    revision = catalog.put_audience(principal.tenant_id, parse_segment(segment_id, app.current_event.body))
    return {"revision": revision}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)
