"""Consumers of ApplyQueue (one chunk of an import's planned changes per message) and of its DLQ."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from audiences import importer, tracing

logger = Logger()
tracer = tracing.tracer()
processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def handle(record: SQSRecord) -> None:
    attempt = int(record.attributes.approximate_receive_count)
    for chunk in importer.chunks(record.body):
        try:
            importer.apply_chunk(chunk)
        except Exception as error:
            logger.exception("chunk attempt failed", extra={"attempt": attempt, "chunk": chunk.number})
            importer.note_failed_attempt(chunk, attempt, type(error).__name__)
            raise


def give_up(record: SQSRecord) -> None:
    for chunk in importer.chunks(record.body):
        importer.give_up_chunk(chunk)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def dead_letter_handler(event, context):
    """A chunk the apply queue gave up on ends its import as FAILED, saying why."""
    return process_partial_response(event=event, record_handler=give_up, processor=processor)
