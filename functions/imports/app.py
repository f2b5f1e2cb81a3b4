"""The consumer of ImportsQueue: S3 ObjectCreated notifications of ODP audience files, Adobe's runs
and extend-ttl re-confirmations. Its readers run on Polars, from the engine layer only this
function carries; the queue's DLQ is consumed by give_up.py, which needs no engine."""

from functools import partial

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from audiences import importer, tracing
from audiences.adobe.source_file import SourceFile
from audiences.odp.audience_file import AudienceFile
from audiences.odp.uploads import LAYOUT
from audiences.wiring import stores

logger = Logger()
tracer = tracing.tracer()
processor = BatchProcessor(event_type=EventType.SQS)
BUSY_RETRY_SECONDS = 60


def _work(body: str, context: LambdaContext | None) -> list[tuple[importer.Work, object]]:
    """What a message asks for, each with how it is done: an ODP upload, an Adobe run or re-confirmation."""
    seconds_left = (lambda: context.get_remaining_time_in_millis() / 1000) if context else None
    uploads = [(upload, partial(importer.process, upload, AudienceFile, LAYOUT)) for upload in importer.uploads(body)]
    runs = [(run, partial(importer.process_run, run, SourceFile)) for run in importer.runs(body)]
    reconfirms = [(job, partial(importer.process_reconfirm, job, seconds_left)) for job in importer.reconfirms(body)]
    return uploads + runs + reconfirms


@tracer.capture_method
def handle(record: SQSRecord, lambda_context: LambdaContext) -> None:
    attempt = int(record.attributes.approximate_receive_count)
    for work, process in _work(record.body, lambda_context):
        try:
            process()
        except importer.AudienceBusy:
            # Come back in a minute, not at the queue's visibility timeout (an hour and a half).
            stores().queues.retry_after(
                record.event_source_arn, record.receipt_handle, min(900, BUSY_RETRY_SECONDS * attempt)
            )
            importer.note_failed_attempt(work, attempt, "another import of the same audience was running")
            raise
        except Exception as error:
            logger.exception("import attempt failed", extra={"attempt": attempt})
            importer.note_failed_attempt(work, attempt, type(error).__name__)
            raise


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
