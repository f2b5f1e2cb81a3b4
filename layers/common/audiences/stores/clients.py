"""AWS clients, made on first use and kept for every later invocation of a warm container.

No client is made at import: a process that never touches S3 never pays for an S3 client,
and a missing setting fails the call that needs it, not the import.

Every client comes from one botocore session, PynamoDB's too, and the same client serves every
table: a session parses a service's model (hundreds of KB of JSON) once, and PynamoDB would
otherwise start a session and a client of its own for each table's connection, which was most
of a cold start's first response. boto3 (and its transfer manager) is imported only for S3.
"""

from __future__ import annotations

import threading
from functools import cache

import botocore.session
import pynamodb.connection.base
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException

from audiences.settings import get_settings

# What a failed AWS call raises, through boto3 or PynamoDB: for callers that report it to a person.
AWS_ERRORS = (BotoCoreError, ClientError, PynamoDBException)


class _SharedSession(botocore.session.Session):
    """A session that threads may share (botocore's clients are thread-safe, making them is not), making
    one client for each service, place and configuration asked for."""

    _making = threading.Lock()

    def __init__(self) -> None:
        super().__init__()
        self._clients: dict[tuple, object] = {}

    def create_client(self, service_name, region_name=None, endpoint_url=None, config=None, **kwargs):
        options = sorted(vars(config).items()) if config else []  # PynamoDB makes an equal Config per table
        key = (service_name, region_name, endpoint_url, repr(options), repr(sorted(kwargs.items())))
        with self._making:
            if key not in self._clients:
                self._clients[key] = super().create_client(
                    service_name, region_name, endpoint_url=endpoint_url, config=config, **kwargs
                )
            return self._clients[key]


@cache
def _session() -> _SharedSession:
    return _SharedSession()


pynamodb.connection.base.get_session = _session  # what each PynamoDB connection asks for its session


@cache
def s3():
    import boto3  # its transfer manager moves our files; nothing else needs boto3, whose import is 0.1 s

    # SigV4 everywhere: botocore would presign with SigV2 by default, which newer regions refuse.
    session = boto3.Session(botocore_session=_session())
    return session.client("s3", region_name=get_settings().region, config=Config(signature_version="s3v4"))


@cache
def sqs():
    return _session().create_client("sqs", get_settings().region)


@cache
def firehose():
    return _session().create_client("firehose", get_settings().region)


@cache
def kms():
    return _session().create_client("kms", get_settings().region)


@cache
def dynamodb() -> Connection:
    """PynamoDB's connection, for transactions across models."""
    return Connection(region=get_settings().region)
