"""POST /v1/<call> and /v1/batch: Segment's HTTP Tracking API, a destination for Engage audiences."""

import time

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from audiences import (
    auth,
    ingest,
    snapstart,  # noqa: F401  (registers what a SnapStart restore must redo)
    tracing,
)
from audiences.errors import InvalidInput
from audiences.openapi import json_body
from audiences.segment import tracking_http as http
from audiences.segment.tracking import membership_changes, parse_calls
from audiences.settings import get_settings

logger = Logger()
tracer = tracing.tracer()
metrics = Metrics()
app = APIGatewayRestResolver()
app.configure_openapi(title="Segment Tracking API", security_schemes=http.SECURITY_SCHEMES)


@tracer.capture_method
def accept(endpoint: str) -> Response:
    metrics.add_metric("Uploads", MetricUnit.Count, 1)  # every request, refused ones included
    endpoint = "batch" if endpoint == "import" else endpoint
    principal, document, body = http.caller_and_body(app, batch=endpoint == "batch")
    now = time.time()
    tenant, skew = auth.tenant_of(principal), get_settings().max_future_skew_seconds
    try:
        parsed = parse_calls(document, len(body.encode()), endpoint, tenant, now, skew)
    except InvalidInput as rejected:
        metrics.add_metric("EventsRejected", MetricUnit.Count, max(1, len(rejected.problems)))
        raise
    metrics.add_metric("EventsReceived", MetricUnit.Count, len(parsed.calls))
    metrics.add_metric("AudienceCallsAnonymous", MetricUnit.Count, len(parsed.anonymous))
    changes = membership_changes(principal.tenant_id, parsed.audience_calls)
    result = ingest.accept(tenant, "segment-tracking", body, parsed.calls, changes, now)
    metrics.add_metric("MembershipsQualified", MetricUnit.Count, result.qualified)
    metrics.add_metric("MembershipsDisqualified", MetricUnit.Count, result.disqualified)
    metrics.add_metric("MembershipsUpdated", MetricUnit.Count, result.updated)
    metrics.add_metric("EventsStale", MetricUnit.Count, result.stale)
    metrics.add_metric("MembershipsScreened", MetricUnit.Count, result.screened)
    logger.info("calls accepted", extra={"calls": len(parsed.calls), "changes": len(changes)})
    return http.success(parsed.anonymous)


ENGAGE = {"personas": {"computation_class": "audience", "computation_key": "vip_users"}}
EXAMPLES = {  # a call each endpoint accepts, for its OpenAPI example (a test sends them all)
    "identify": {"userId": "user-123", "traits": {"vip_users": True}, "context": ENGAGE},
    "track": {"userId": "user-123", "event": "Audience Entered", "properties": {"vip_users": True}, "context": ENGAGE},
    "page": {"userId": "user-123", "name": "Home"},
    "screen": {"userId": "user-123", "name": "Home"},
    "group": {"userId": "user-123", "groupId": "acme"},
    "alias": {"userId": "user-123", "previousId": "anonymous-1"},
}
EXAMPLES["batch"] = EXAMPLES["import"] = {"batch": [{"type": "identify", **EXAMPLES["identify"]}]}
SUMMARIES = {
    "batch": "Send many calls at once (an Engage audience's destination sends these)",
    "import": "The same as batch",
}


def _route(endpoint: str) -> None:
    """One route per endpoint, as the template has them, so that each is documented on its own."""
    app.post(
        http.PREFIX + endpoint,
        summary=SUMMARIES.get(endpoint, f"Send one {endpoint} call"),
        tags=["Segment Tracking API"],
        security=http.SECURITY,
        operation_id=f"tracking_{endpoint}",
        openapi_extensions=json_body(
            EXAMPLES[endpoint], "Calls as Segment's libraries send them; gzip and text/plain too."
        ),
    )(lambda: accept(endpoint))


for name in http.ENDPOINTS:
    _route(name)


@app.not_found
def not_routed(_: Exception) -> Response:
    """The template's catch-all under /v1/ brings every other path and method here."""
    metrics.add_metric("UnknownPaths", MetricUnit.Count, 1)  # a client set up for other endpoints
    return http.error_response(http.unknown_path(app.current_event.path))


@app.exception_handler(Exception)
def failed(error: Exception) -> Response:
    return http.error_response(error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event, context):
    return app.resolve(event, context)
