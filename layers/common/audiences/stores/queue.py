"""The imports queue, for a message that should come back sooner than its visibility timeout."""

from __future__ import annotations

import boto3

from audiences.settings import get_settings

_sqs = boto3.client("sqs", region_name=get_settings().region)


def retry_after(queue_arn: str, receipt_handle: str, seconds: int) -> None:
    account, name = queue_arn.split(":")[4:6]
    url = f"{_sqs.meta.endpoint_url}/{account}/{name}"
    _sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds)
