"""AWS clients, made on first use and kept for every later invocation of a warm container.

Nothing here runs at import: a process that never touches S3 never pays for an S3 client,
and a missing setting fails the call that needs it, not the import.
"""

from __future__ import annotations

from functools import cache

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException

from audiences.settings import get_settings

# What a failed AWS call raises, through boto3 or PynamoDB: for callers that report it to a person.
AWS_ERRORS = (BotoCoreError, ClientError, PynamoDBException)


@cache
def s3():
    # SigV4 everywhere: botocore would presign with SigV2 by default, which newer regions refuse.
    return boto3.client("s3", region_name=get_settings().region, config=Config(signature_version="s3v4"))


@cache
def sqs():
    return boto3.client("sqs", region_name=get_settings().region)


@cache
def firehose():
    return boto3.client("firehose", region_name=get_settings().region)


@cache
def dynamodb() -> Connection:
    """PynamoDB's connection, for transactions across models."""
    return Connection(region=get_settings().region)
