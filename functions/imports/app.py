"""Consumer of ImportsQueue (S3 ObjectCreated notifications for audience files).

Audience imports are not built yet. Until they are, every record fails, so SQS keeps the
notification and, after maxReceiveCount attempts, moves it to the dead-letter queue, from
which it can be redriven once imports exist. Acknowledging a file we did not apply would
lose it silently.
"""

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

logger = Logger()
tracer = Tracer()
processor = BatchProcessor(event_type=EventType.SQS)


class ImportsNotAvailable(RuntimeError):
    pass


@tracer.capture_method
def refuse(record: SQSRecord) -> None:
    raise ImportsNotAvailable(
        f"message {record.message_id}: audience imports are not available in this version; "
        "the notification stays queued and reaches the dead-letter queue for a later redrive"
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=refuse, processor=processor, context=context)
