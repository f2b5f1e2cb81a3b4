"""Consumer of ImportsQueue: S3 ObjectCreated notifications for audience files."""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from audiences import importer
from audiences.stores import queue

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)
BUSY_RETRY_SECONDS = 60


@tracer.capture_method
def handle(record: SQSRecord, lambda_context: LambdaContext) -> None:
    for upload in importer.uploads(record.body):
        try:
            importer.process(upload, lambda: lambda_context.get_remaining_time_in_millis() / 1000)
        except importer.AudienceBusy:
            # Another import of this audience is running: come back in a minute, not at the
            # queue's visibility timeout (an hour and a half).
            attempts = int(record.attributes.approximate_receive_count)
            queue.retry_after(record.event_source_arn, record.receipt_handle, min(900, BUSY_RETRY_SECONDS * attempts))
            raise


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
