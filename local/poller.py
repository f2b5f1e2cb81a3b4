"""Feeds SQS messages to a function like a Lambda event source mapping with partial batch failures."""

from __future__ import annotations

import hashlib
import threading
import time

import boto3

from local import iam
from local.lambdas import LocalFunction
from local.provision import REGION


class QueuePoller(threading.Thread):
    def __init__(
        self, function: LocalFunction, queue_name: str, retry_after_seconds: int, batch_size: int = 10
    ) -> None:
        super().__init__(name=f"poll-{queue_name}", daemon=True)
        self.function = function
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.queue_url = self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        # The template's visibility timeout fits AWS (6x the function timeout); locally a failed
        # message comes back after seconds, so retries and dead-lettering are observable.
        self.retry_after_seconds = retry_after_seconds
        self.batch_size = batch_size
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception as error:  # keep polling, as an event source mapping would
                print(f"poller {self.name}: {type(error).__name__}: {error}", flush=True)
                time.sleep(1)

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch, invoke, delete what succeeded; returns the number received."""
        with self.as_the_function():
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.batch_size,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=self.retry_after_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self.event_record(message) for message in messages]}
        try:
            result = self.function.invoke(event) or {}
            failed = {failure["itemIdentifier"] for failure in result.get("batchItemFailures", [])}
        except Exception:  # a failed invocation fails the whole batch
            failed = {message["MessageId"] for message in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            with self.as_the_function():
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
        return len(messages)

    def as_the_function(self):
        """An event source mapping reads and deletes with its function's execution role."""
        return iam.ENFORCER.acting_as(self.function.function.logical_id, invocation=False)

    def event_record(self, message: dict) -> dict:
        """The record Lambda's event source mapping would build from a received message."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }
