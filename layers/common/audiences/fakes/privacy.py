"""Privacy marks and requests in memory."""

from __future__ import annotations

import secrets
import threading
from dataclasses import replace

from audiences.errors import Conflict
from audiences.ports.privacy import Mark, PrivacyRequest, Screening, Status


class InMemoryPrivacy:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, tuple[bytes, float]] = {}
        self._marks: dict[str, dict[str, Mark]] = {}
        self._requests: dict[str, dict[str, PrivacyRequest]] = {}

    def screening(self, tenant_id: str) -> Screening:
        with self._lock:
            secret, _ = self._secrets.get(tenant_id, (None, 0.0))
            return Screening(secret, dict(self._marks.get(tenant_id, {})))

    def secret(self, tenant_id: str) -> bytes | None:
        with self._lock:
            return self._secrets.get(tenant_id, (None,))[0]

    def create_secret(self, tenant_id: str, now: float) -> bytes:
        with self._lock:
            return self._secrets.setdefault(tenant_id, (secrets.token_bytes(32), now))[0]

    def mark(
        self,
        tenant_id: str,
        hashes: list[str],
        *,
        suppressed_until: float | None = None,
        erased_at: float | None = None,
    ) -> None:
        with self._lock:
            marks = self._marks.setdefault(tenant_id, {})
            for digest in hashes:
                held = marks.get(digest, Mark())
                if suppressed_until is None:
                    until = held.suppressed_until
                else:  # raised, never lowered, unless lifted (0)
                    until = suppressed_until and max(suppressed_until, held.suppressed_until)
                erased = held.erased_at if erased_at is None else max(erased_at, held.erased_at or erased_at)
                if until == 0 and erased is None:
                    marks.pop(digest, None)
                else:
                    marks[digest] = Mark(until, erased)

    def put_request(self, tenant_id: str, request: PrivacyRequest) -> None:
        with self._lock:
            held = self._requests.setdefault(tenant_id, {})
            if request.request_id in held:
                raise Conflict(f"privacy request {request.request_id!r} exists")
            held[request.request_id] = request

    def get_request(self, tenant_id: str, request_id: str) -> PrivacyRequest | None:
        with self._lock:
            return self._requests.get(tenant_id, {}).get(request_id)

    def requests(
        self, tenant_id: str, after: str | None, limit: int, newest_first: bool = False
    ) -> tuple[list[PrivacyRequest], bool]:
        with self._lock:
            ids = sorted(self._requests.get(tenant_id, {}), reverse=newest_first)
            if after is not None:
                ids = [i for i in ids if (i < after if newest_first else i > after)]
            found = [self._requests[tenant_id][i] for i in ids[: limit + 1]]
        return found[:limit], len(found) > limit

    def count_requests(self, tenant_id: str) -> int:
        with self._lock:
            return len(self._requests.get(tenant_id, {}))

    def update_request(
        self, tenant_id: str, request_id: str, expected: set[Status], **changes
    ) -> PrivacyRequest | None:
        with self._lock:
            held = self._requests.get(tenant_id, {}).get(request_id)
            if held is None or held.status not in expected:
                return None
            self._requests[tenant_id][request_id] = updated = replace(held, **changes)
            return updated
