"""The expiry sweep, on a schedule: every qualification past its audience's TTL becomes a disqualify."""

from aws_lambda_powertools import Logger

from audiences import expiry, tracing

logger = Logger()
tracer = tracing.tracer()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    done = expiry.sweep(seconds_left=lambda: context.get_remaining_time_in_millis() / 1000)
    return {"audiences": done.audiences, "expired": done.expired, "finished": done.finished}
