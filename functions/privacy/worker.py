"""Privacy jobs: the consumer of PrivacyQueue (a step of a request's job per message), of its dead-letter
queue (a job whose attempts ran out ends FAILED), and a schedule that queues again a job whose message was
lost."""

import json

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from audiences import catalog, tracing
from audiences.adobe.audiences import identity_columns
from audiences.privacy import jobs, requests

logger = Logger()
tracer = tracing.tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


def _upload_columns(tenant_id: str) -> set[tuple[str, str]]:
    """The identifier columns of the dialects' uploads beyond ODP's (named as the field itself): Adobe's."""
    return identity_columns(catalog.list_audiences(tenant_id))


def _job(record: SQSRecord) -> tuple[str, str]:
    message = json.loads(record.body)
    return message["tenant"], message["request"]


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    if event.get("source") == "aws.events":
        return {"queued": jobs.sweep()}

    def handle(record: SQSRecord) -> None:
        tenant_id, request_id = _job(record)
        logger.append_keys(tenant=tenant_id, request=request_id)
        seconds_left = lambda: context.get_remaining_time_in_millis() / 1000  # noqa: E731
        try:
            wait = jobs.run(tenant_id, request_id, seconds_left, upload_columns=_upload_columns)
        except jobs.PastDeadline:
            logger.error("privacy request failed: the tenant's imports were still in flight past its deadline")
            metrics.add_metric("PrivacyRequestsPastDeadline", MetricUnit.Count, 1)
            metrics.flush_metrics()
            return
        if wait is not None:
            requests.queue_job(tenant_id, request_id, wait)

    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def dead_letter_handler(event, context):
    """A job the privacy queue gave up on ends as FAILED."""
    return process_partial_response(
        event=event, record_handler=lambda record: jobs.give_up(*_job(record)), processor=processor
    )
