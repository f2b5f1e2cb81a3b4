"""The event archive: every accepted event, kept as it came."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from audiences.domain import UserRef

MAX_RECORD_BYTES = 1000 * 1024  # Firehose's largest record: the archive on AWS takes none larger


class ArchiveUnavailable(RuntimeError):
    """The archive kept refusing some of the upload's records; the upload must be retried."""


@dataclass(frozen=True)
class Event:
    """An accepted event as it came, with whom it names and when it happened, as its dialect reads them."""

    body: dict
    subjects: tuple[UserRef, ...] = ()  # the users it names by the tenant's identifier fields, and only those
    ts: float | None = None  # of the membership change it asks for; None: it happened when it was received

    def happened(self, received_at: float) -> float:
        return received_at if self.ts is None else self.ts


def records(
    tenant_id: str, received_at: float, upload_id: str, events: Mapping[int, Event], source: str
) -> list[bytes]:
    """The archive's records of an upload's events (by their index in it, the screened ones left out): one JSON
    line per event, with its tenant, day, source, upload id, index in the upload (a reader keeps one record per
    upload id and index) and the subjects it names (what a privacy request matches, never the event's other
    strings)."""
    received = datetime.fromtimestamp(received_at, UTC)
    common = {"tenant": tenant_id, "date": received.strftime("%Y-%m-%d"), "source": source, "upload_id": upload_id}
    return [
        # UTF-8 JSON (not \u escapes), so a record is the size of its event plus a short envelope
        (
            json.dumps(
                common
                | {
                    "index": index,
                    "received_at": received.isoformat(),
                    "subjects": [[subject.field, subject.value] for subject in event.subjects],
                    "event": event.body,
                },
                ensure_ascii=False,
            )
            + "\n"
        ).encode()
        for index, event in events.items()
    ]


class EventArchive(Protocol):
    def put_events(
        self, tenant_id: str, received_at: float, upload_id: str, events: Mapping[int, Event], source: str
    ) -> None:
        """Archive an upload's events (at most 500) by their index in it; ArchiveUnavailable if some were refused,
        safe to retry."""
        ...
