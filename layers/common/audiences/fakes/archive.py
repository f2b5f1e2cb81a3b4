"""The event archive in memory: its records, delivered as the AWS archive's Firehose delivers them (one gzip
JSON Lines object per upload, under events/tenant=<tenant>/date=<day>/ of the data bucket)."""

from __future__ import annotations

import gzip
import itertools
import json
import threading
from collections.abc import Callable, Mapping

from audiences.ports.archive import MAX_RECORD_BYTES, Event, records


class InMemoryArchive:
    def __init__(self, deliver: Callable[[str, bytes], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._deliver = deliver
        self._numbers = itertools.count()
        self.delivered: list[bytes] = []

    def put_events(
        self, tenant_id: str, received_at: float, upload_id: str, events: Mapping[int, Event], source: str
    ) -> None:
        made = records(tenant_id, received_at, upload_id, events, source)
        if too_large := [record for record in made if len(record) > MAX_RECORD_BYTES]:
            raise ValueError(f"{len(too_large)} records are over the archive's {MAX_RECORD_BYTES} bytes")
        with self._lock:
            self.delivered.extend(made)
            number = next(self._numbers)
        if self._deliver is not None and made:
            day = json.loads(made[0])["date"]
            self._deliver(
                f"events/tenant={tenant_id}/date={day}/archive-{number:08d}.gz", gzip.compress(b"".join(made))
            )
