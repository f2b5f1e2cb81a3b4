"""POST /v3/events: ODP's upload-events API."""

import time

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from audiences import auth, memberships
from audiences.domain import Scope
from audiences.odp import http
from audiences.odp.events import parse_events
from audiences.settings import get_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayRestResolver()
http.install_error_handlers(app, http.events_error)


@app.post("/v3/events")
@tracer.capture_method
def upload_events():
    metrics.add_metric("UploadRequests", MetricUnit.Count, 1)
    principal = auth.authenticate(app.current_event.headers.get("x-api-key"), Scope.PUBLIC)
    logger.append_keys(tenant=principal.tenant_id)
    changes = parse_events(
        app.current_event.body, auth.tenant_of(principal), time.time(), get_settings().max_future_skew_seconds
    )
    result = memberships.apply(principal.tenant_id, changes)
    metrics.add_metric("EventsApplied", MetricUnit.Count, result.applied)
    metrics.add_metric("EventsStale", MetricUnit.Count, result.stale)
    return http.accepted()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
