"""Until imports exist, the imports function must never acknowledge a file it did not apply."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from local.poller import QueuePoller
from local.provision import REGION
from tests.conftest import PLAN
from tests.integration.test_sample_events import load


def test_handler_fails_every_record(functions, aws):
    with pytest.raises(BatchProcessingError, match="audience imports are not available"):
        functions["ImportsFunction"].invoke(load("imports-object-created.json", {}))


def test_uploaded_file_reaches_the_dead_letter_queue_not_the_void(functions, aws):
    sqs = boto3.client("sqs", region_name=REGION)
    poller = QueuePoller(functions["ImportsFunction"], PLAN.names["ImportsQueue"], retry_after_seconds=0)
    while poller.poll_once():  # drain S3's test event, which the refusing handler also keeps
        pass
    dlq_url = sqs.get_queue_url(QueueName=PLAN.names["ImportsDeadLetterQueue"])["QueueUrl"]
    sqs.purge_queue(QueueUrl=dlq_url)

    boto3.client("s3", region_name=REGION).put_object(
        Bucket=PLAN.names["ImportsBucket"], Key="demo/audience-diffs/vip_users.csv.gz", Body=b"x"
    )
    receives = 0
    while poller.poll_once():
        receives += 1
    assert receives == 3  # the template's maxReceiveCount
    [message] = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    [record] = json.loads(message["Body"])["Records"]
    assert unquote_plus(record["s3"]["object"]["key"]) == "demo/audience-diffs/vip_users.csv.gz"
