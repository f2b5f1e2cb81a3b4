"""The imports and apply queues in memory: what was sent, for a test to deliver as SQS would."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Message:
    body: str
    receives: int = 0
    delay_seconds: int = 0


class InMemoryQueues:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, list[Message]] = {"imports": [], "apply": [], "privacy": []}
        self.retries: list[tuple[str, int]] = []  # receipt handle, seconds

    def send_to_imports(self, body: str) -> None:
        with self._lock:
            self._queues["imports"].append(Message(body))

    def send_to_apply(self, bodies: list[str]) -> None:
        with self._lock:
            self._queues["apply"].extend(Message(body) for body in bodies)

    def send_to_privacy(self, body: str, delay_seconds: int = 0) -> None:
        with self._lock:
            self._queues["privacy"].append(Message(body, delay_seconds=delay_seconds))

    def retry_after(self, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        with self._lock:
            self.retries.append((receipt_handle, seconds))

    def receive(self, queue: str) -> Message | None:
        """The oldest message of `queue` ("imports", "apply" or "privacy"), taken off it and counted as received
        once more."""
        with self._lock:
            if not self._queues[queue]:
                return None
            message = self._queues[queue].pop(0)
            message.receives += 1
            return message

    def release(self, queue: str, message: Message) -> None:
        """Put a received message back, last, as its visibility timeout ending would."""
        with self._lock:
            self._queues[queue].append(message)

    def waiting(self, queue: str) -> list[str]:
        with self._lock:
            return [message.body for message in self._queues[queue]]
