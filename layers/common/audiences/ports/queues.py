"""The imports queue (uploads, runs, re-confirmations), the apply queue (chunks) and the privacy queue (jobs)."""

from __future__ import annotations

from typing import Protocol


class Queues(Protocol):
    def send_to_imports(self, body: str) -> None: ...

    def send_to_apply(self, bodies: list[str]) -> None:
        """Queue every body on the apply queue; raises if any was refused (sending again sends duplicates, which
        the apply handler tolerates)."""
        ...

    def send_to_privacy(self, body: str, delay_seconds: int = 0) -> None:
        """Queue a privacy job's next step, delivered no sooner than `delay_seconds` (at most 900) from now."""
        ...

    def retry_after(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        """Let a received message come back in `seconds`, sooner than its visibility timeout."""
        ...
