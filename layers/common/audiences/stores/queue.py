"""The imports queue: runs are sent to it, and a message may come back sooner than its visibility timeout."""

from __future__ import annotations

from audiences.settings import get_settings
from audiences.stores import clients


def send_to_imports(body: str) -> None:
    clients.sqs().send_message(QueueUrl=get_settings().imports_queue_url, MessageBody=body)


def retry_after(queue_arn: str, receipt_handle: str, seconds: int) -> None:
    account, name = queue_arn.split(":")[4:6]
    url = f"{clients.sqs().meta.endpoint_url}/{account}/{name}"
    clients.sqs().change_message_visibility(QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds)
