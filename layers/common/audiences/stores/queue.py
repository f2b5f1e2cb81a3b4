"""The imports and apply queues: runs and chunks are sent to them, and a message may come back sooner than its
visibility timeout."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from audiences.domain import batched
from audiences.settings import get_settings
from audiences.stores import clients

_BATCH = 10  # SendMessageBatch's most entries
_SENDERS = 8


def send_to_imports(body: str) -> None:
    clients.sqs().send_message(QueueUrl=get_settings().imports_queue_url, MessageBody=body)


def send_to_privacy(body: str, delay_seconds: int = 0) -> None:
    clients.sqs().send_message(QueueUrl=get_settings().privacy_queue_url, MessageBody=body, DelaySeconds=delay_seconds)


def retry_after(queue_arn: str, receipt_handle: str, seconds: int) -> None:
    account, name = queue_arn.split(":")[4:6]
    url = f"{clients.sqs().meta.endpoint_url}/{account}/{name}"
    clients.sqs().change_message_visibility(QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds)


def send_to_apply(bodies: list[str]) -> None:
    """Queue every body on the apply queue, ten per request, several requests at once; raises if any
    entry was refused (a caller that sends again sends duplicates, which the apply handler tolerates)."""
    url = get_settings().apply_queue_url

    def send(batch: tuple[str, ...]) -> None:
        entries = [{"Id": str(n), "MessageBody": body} for n, body in enumerate(batch)]
        failed = clients.sqs().send_message_batch(QueueUrl=url, Entries=entries).get("Failed", [])
        if failed:
            raise RuntimeError(f"{len(failed)} apply messages were refused: {failed[0].get('Code')}")

    with ThreadPoolExecutor(_SENDERS) as senders:
        list(senders.map(send, batched(bodies, _BATCH)))
