"""POST /v3/events: ODP's upload-events API."""

import time

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from audiences import (
    auth,
    ingest,
    snapstart,  # noqa: F401  (registers what a SnapStart restore must redo)
    tracing,
)
from audiences.domain import Scope
from audiences.errors import InvalidInput
from audiences.odp import http
from audiences.odp.events import MAX_BODY_BYTES, parse_events
from audiences.openapi import json_body
from audiences.settings import get_settings

logger = Logger()
tracer = tracing.tracer()
metrics = Metrics()
app = APIGatewayRestResolver()
app.configure_openapi(title="ODP events API", security_schemes=http.SECURITY_SCHEMES)
http.install_error_handlers(app, {"/": http.events_error})


@app.post(
    "/v3/events",
    summary="Upload events; audience events qualify and disqualify",
    tags=["ODP events"],
    security=http.SECURITY,
    openapi_extensions=json_body(
        [
            {
                "type": "passthrough",
                "action": "qualify",
                "identifiers": {"fs_user_id": "user-123"},
                "data": {"audience_id": "vip", "ts": 1748851070},
            }
        ],
        "An event or a list of them; passthrough events name their audience in data.audience_id.",
    ),
)
@tracer.capture_method
def upload_events():
    metrics.add_metric("Uploads", MetricUnit.Count, 1)  # every request, refused ones included
    principal = http.authenticate(app, Scope.PUBLIC)
    body = http.json_text(app, MAX_BODY_BYTES, "send fewer events per request")
    now = time.time()
    try:
        upload = parse_events(body, auth.tenant_of(principal), now, get_settings().max_future_skew_seconds)
    except InvalidInput as rejected:
        metrics.add_metric("EventsRejected", MetricUnit.Count, max(1, len(rejected.problems)))
        raise
    metrics.add_metric("EventsReceived", MetricUnit.Count, len(upload.events))
    result = ingest.accept(auth.tenant_of(principal), "odp-events", body, upload.events, upload.changes, now)
    metrics.add_metric("MembershipsQualified", MetricUnit.Count, result.qualified)
    metrics.add_metric("MembershipsDisqualified", MetricUnit.Count, result.disqualified)
    metrics.add_metric("MembershipsUpdated", MetricUnit.Count, result.updated)
    metrics.add_metric("EventsStale", MetricUnit.Count, result.stale)
    metrics.add_metric("MembershipsScreened", MetricUnit.Count, result.screened)
    logger.info("upload accepted", extra={"events": len(upload.events), "changes": len(upload.changes)})
    return http.accepted()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
