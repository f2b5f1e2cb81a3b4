"""The event archive: every accepted event, one Firehose record each, delivered to DataBucket.

Firehose partitions the records by their `tenant` and `date` fields (dynamic partitioning) into
`events/tenant=<tenant>/date=<day>/`, gzip JSON Lines, as one request per upload instead of one
S3 object. Firehose is at-least-once and a client may retry an upload: each record carries its
upload's id (a hash of tenant and body) and its index in the upload, so a reader keeps one record
per (upload_id, index). `source` names the API the events came by (its dialect's name for them).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping

from audiences.ports.archive import ArchiveUnavailable, Event, records
from audiences.settings import get_settings
from audiences.stores import clients

BATCH_RECORDS = 500  # Firehose's most records per PutRecordBatch; an upload holds at most 500 events
_ATTEMPTS = 4
_BASE_BACKOFF_SECONDS = 0.05


def put_events(tenant_id: str, received_at: float, upload_id: str, events: Mapping[int, Event], source: str) -> None:
    """One PutRecordBatch per upload (of up to 500 events); the records Firehose refused are sent
    again, bounded and jittered, and if some are still refused the upload fails, safe to retry."""
    pending = records(tenant_id, received_at, upload_id, events, source)
    stream = get_settings().event_archive_stream
    for attempt in range(_ATTEMPTS):
        refused: list[bytes] = []
        for start in range(0, len(pending), BATCH_RECORDS):
            batch = pending[start : start + BATCH_RECORDS]
            answer = clients.firehose().put_record_batch(
                DeliveryStreamName=stream, Records=[{"Data": data} for data in batch]
            )
            if answer["FailedPutCount"]:
                results = answer["RequestResponses"]
                refused += [data for data, result in zip(batch, results, strict=True) if "ErrorCode" in result]
        pending = refused
        if not pending:
            return
        time.sleep(random.uniform(0, _BASE_BACKOFF_SECONDS * 2**attempt))
    raise ArchiveUnavailable(f"Firehose refused {len(pending)} of {len(events)} records {_ATTEMPTS} times")
