"""The event archive in memory: its records, as the AWS archive would deliver them."""

from __future__ import annotations

import threading

from audiences.ports.archive import MAX_RECORD_BYTES, records


class InMemoryArchive:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.delivered: list[bytes] = []

    def put_events(self, tenant_id: str, received_at: float, upload_id: str, events: list[dict], source: str) -> None:
        made = records(tenant_id, received_at, upload_id, events, source)
        if too_large := [record for record in made if len(record) > MAX_RECORD_BYTES]:
            raise ValueError(f"{len(too_large)} records are over the archive's {MAX_RECORD_BYTES} bytes")
        with self._lock:
            self.delivered.extend(made)
