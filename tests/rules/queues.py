"""The in-memory imports and apply queues, delivered to their functions as Lambda's event source mappings
would: a message a function reports failed goes back on its queue, received once more."""

from __future__ import annotations

import hashlib
import uuid

from audiences.fakes.queues import InMemoryQueues
from audiences.wiring import stores

CONSUMERS = {"imports": "ImportsFunction", "apply": "ApplyFunction", "privacy": "PrivacyFunction"}


def _queues() -> InMemoryQueues:
    queues = stores().queues
    assert isinstance(queues, InMemoryQueues)
    return queues


def deliver(functions, queue: str) -> bool:
    """Deliver the oldest message of `queue` to its function; whether there was one."""
    message = _queues().receive(queue)
    if message is None:
        return False
    body = message.body
    message_id = str(uuid.uuid4())
    record = {
        "messageId": message_id,
        "receiptHandle": message_id,
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(message.receives)},
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
        "awsRegion": "us-east-1",
    }
    try:
        failed = bool((functions[CONSUMERS[queue]].invoke({"Records": [record]}) or {}).get("batchItemFailures"))
    except Exception:  # a failed invocation fails its batch
        failed = True
    if failed:
        _queues().release(queue, message)
    return True


def drain(functions, limit: int = 1000) -> int:
    """Deliver every queued message and every message that queues, until every queue is empty; returns
    deliveries."""
    delivered = 0
    while delivered < limit and (progress := sum(deliver(functions, queue) for queue in CONSUMERS)):
        delivered += progress
    return delivered
