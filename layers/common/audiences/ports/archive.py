"""The event archive: every accepted event, kept as it came."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Protocol

MAX_RECORD_BYTES = 1000 * 1024  # Firehose's largest record: the archive on AWS takes none larger


class ArchiveUnavailable(RuntimeError):
    """The archive kept refusing some of the upload's records; the upload must be retried."""


def records(tenant_id: str, received_at: float, upload_id: str, events: list[dict], source: str) -> list[bytes]:
    """The archive's records of an upload: one JSON line per event, with its tenant, day, source, upload id and
    index in the upload (a reader keeps one record per upload id and index)."""
    received = datetime.fromtimestamp(received_at, UTC)
    common = {"tenant": tenant_id, "date": received.strftime("%Y-%m-%d"), "source": source, "upload_id": upload_id}
    return [
        # UTF-8 JSON (not \u escapes), so a record is the size of its event plus a short envelope
        (
            json.dumps(
                common | {"index": index, "received_at": received.isoformat(), "event": event}, ensure_ascii=False
            )
            + "\n"
        ).encode()
        for index, event in enumerate(events)
    ]


class EventArchive(Protocol):
    def put_events(self, tenant_id: str, received_at: float, upload_id: str, events: list[dict], source: str) -> None:
        """Archive an upload's events (at most 500); ArchiveUnavailable if some were refused, safe to retry."""
        ...
