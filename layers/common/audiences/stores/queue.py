"""The imports queue, for a message that should come back sooner than its visibility timeout."""

from __future__ import annotations

from audiences.stores import clients


def retry_after(queue_arn: str, receipt_handle: str, seconds: int) -> None:
    account, name = queue_arn.split(":")[4:6]
    url = f"{clients.sqs().meta.endpoint_url}/{account}/{name}"
    clients.sqs().change_message_visibility(QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds)
