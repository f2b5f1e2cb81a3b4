"""The consumer of ImportsQueue's DLQ: every notification the queue gave up on ends its import as
FAILED, saying why. It reads no file, so it imports no reader and runs without the engine layer."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from audiences import importer, tracing
from audiences.odp.uploads import LAYOUT

logger = Logger()
tracer = tracing.tracer()
processor = BatchProcessor(event_type=EventType.SQS)


def give_up(record: SQSRecord) -> None:
    for work in [*importer.uploads(record.body), *importer.runs(record.body), *importer.reconfirms(record.body)]:
        importer.give_up(work, LAYOUT)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=give_up, processor=processor)
