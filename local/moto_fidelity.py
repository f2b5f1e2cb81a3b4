"""Where moto differs from AWS in ways our code depends on: DynamoDB's concurrency and
transactions, and Firehose's dynamic partitioning.

1. Concurrency. moto serves requests from several threads with no locking, and its
   TransactWriteItems deep-copies whole tables while other threads write to them. DynamoDB
   is linearizable per item; serializing moto's DynamoDB requests gives that.
2. Transactions. moto snapshots every table a transaction touches and, on a failed
   condition, swaps the snapshot back: O(table size) per transaction, and a concurrent
   write that landed in between is lost. DynamoDB checks every condition before writing
   anything. `_transact_write_items` does the same: check all, then apply, undoing only the
   items it wrote if applying fails.
3. Firehose. moto writes each PutRecordBatch to one object under the literal prefix, ignoring
   dynamic partitioning and compression. `_put_s3_records` delivers as Firehose does: one object
   per partition, the prefix's `!{partitionKeyFromQuery:…}` filled from each record, gzip when
   asked; it refuses a partitioning it cannot reproduce.
4. Multipart uploads. moto finds an upload by its id alone and fails with a KeyError (a 500)
   for an unknown one; S3 binds the id to its key and answers NoSuchUpload for an unknown id or
   another key's, which is what keeps one tenant from completing another's upload. And moto
   announces a completed upload twice (ObjectCreated:Put, then :CompleteMultipartUpload); S3
   sends the second only.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
import threading

from moto.core.utils import utcnow
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler
from moto.firehose.models import FirehoseBackend
from moto.moto_api._internal import mock_random
from moto.s3.exceptions import NoSuchUpload
from moto.s3.models import S3Backend, s3_backends
from moto.s3.responses import S3Response

_OPERATIONS = {"ConditionCheck", "Put", "Delete", "Update"}
_lock = threading.RLock()
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    call_action = DynamoHandler.call_action

    def serialized(self):
        with _lock:
            return call_action(self)

    DynamoHandler.call_action = serialized
    DynamoDBBackend.transact_write_items = _transact_write_items
    FirehoseBackend.put_s3_records = _put_s3_records
    key_post = S3Response._key_response_post

    def upload_of_its_key(self, request, body, bucket_name, query, key_name):
        if upload_id := (query.get("uploadId") or [None])[0]:
            existing = self.backend.get_object(bucket_name, key_name)
            completed = existing is not None and existing.multipart and existing.multipart.id == upload_id
            multipart = self.backend.get_bucket(bucket_name).multiparts.get(upload_id)
            if not completed and (multipart is None or multipart.key_name != key_name):
                raise NoSuchUpload(upload_id)
        return key_post(self, request, body, bucket_name, query, key_name)

    S3Response._key_response_post = upload_of_its_key
    put_object = S3Backend.put_object

    def announced_once(self, *args, **kwargs):
        if kwargs.get("multipart") is not None:  # completing: the completion announces it
            kwargs["disable_notification"] = True
        return put_object(self, *args, **kwargs)

    S3Backend.put_object = announced_once
    _installed = True


def _key(backend: DynamoDBBackend, op_type: str, op: dict) -> dict:
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return {name: op["Item"][name] for name in names}


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    planned, reasons, seen = [], [], set()
    for entry in transact_items:
        if len(entry) != 1:
            raise TransactWriteSingleOpException
        [(op_type, op)] = entry.items()
        if op_type not in _OPERATIONS:
            raise ValueError(f"Unsupported transaction operation {op_type}")
        key = _key(self, op_type, op)
        identity = (op["TableName"], str(sorted(key.items())))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        current = self.get_item(op["TableName"], key)
        if _condition_holds(op, current):
            reasons.append((None, None, None))
        else:
            wants_old = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
            old = current.to_json()["Attributes"] if current and wants_old else None
            reasons.append(("ConditionalCheckFailed", "The conditional request failed", old))
        planned.append((op_type, op, key, copy.deepcopy(current)))
    if any(code for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)

    written = []
    try:
        for op_type, op, key, before in planned:
            # Every condition held when checked above, under the lock that serializes DynamoDB
            # requests: nothing has changed since, so they are not evaluated a second time.
            expression = {
                "expression_attribute_names": op.get("ExpressionAttributeNames"),
                "expression_attribute_values": op.get("ExpressionAttributeValues"),
            }
            if op_type == "Put":
                self.put_item(op["TableName"], op["Item"], **expression)
            elif op_type == "Delete":
                self.delete_item(op["TableName"], key, **expression)
            elif op_type == "Update":
                self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"], **expression)
            else:
                continue
            written.append((op["TableName"], key, before))
    except Exception:
        for table_name, key, before in reversed(written):
            table = self.get_table(table_name)
            if before is None:
                table.delete_item(*self.get_keys_value(table, key))
            else:
                table.put_item(before.to_json()["Attributes"], overwrite=True)
        raise


def _condition_holds(op: dict, current) -> bool:
    if op.get("ConditionExpression") is None:
        return True
    condition = get_filter_expression(
        op["ConditionExpression"], op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    )
    return condition.expr(current)


_PARTITION_KEY = re.compile(r"!\{partitionKeyFromQuery:(\w+)\}")


def _partition_fields(destination: dict) -> list[str]:
    """The record fields a `{name: .name, …}` metadata extraction query takes; anything else is refused."""
    for processor in destination.get("ProcessingConfiguration", {}).get("Processors", []):
        if processor["Type"] != "MetadataExtraction":
            raise NotImplementedError(f"Firehose processor {processor['Type']} is not reproduced locally")
        parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
        query = parameters["MetadataExtractionQuery"].strip()
        pairs = [pair.split(":") for pair in query.removeprefix("{").removesuffix("}").split(",")]
        if not query.startswith("{") or any(len(p) != 2 or p[1].strip() != f".{p[0].strip()}" for p in pairs):
            raise NotImplementedError(f"metadata extraction query {query!r}: only {{name: .name, …}} is reproduced")
        return [name.strip() for name, _ in pairs]
    return []


def _put_s3_records(self: FirehoseBackend, delivery_stream_name: str, version_id: str, destination: dict, records):
    if not destination.get("DynamicPartitioningConfiguration", {}).get("Enabled"):
        raise NotImplementedError("the local stack reproduces Firehose streams with dynamic partitioning only")
    fields = _partition_fields(destination)
    partitions: dict[str, list[bytes]] = {}
    for record in records:
        values = json.loads(record["Data"])
        prefix = _PARTITION_KEY.sub(lambda match, values=values: str(values[match.group(1)]), destination["Prefix"])
        if match := re.search(r"!\{[^}]*\}", prefix):
            raise NotImplementedError(f"prefix expression {match.group()} is not reproduced locally")
        assert set(fields) <= values.keys(), "a record without its partition keys"
        partitions.setdefault(prefix, []).append(record["Data"])
    compressed = destination.get("CompressionFormat") == "GZIP"
    bucket = destination["BucketARN"].split(":")[-1]
    for prefix, data in partitions.items():
        # Firehose's object name; with expressions in the prefix it appends no YYYY/MM/dd/HH/.
        name = f"{delivery_stream_name}-{version_id}-{utcnow():%Y-%m-%d-%H-%M-%S}-{mock_random.uuid4()}"
        body = b"".join(data)
        s3_backends[self.account_id][self.partition].put_object(
            bucket, prefix + name + (".gz" if compressed else ""), gzip.compress(body, mtime=0) if compressed else body
        )
    return [{"RecordId": str(mock_random.uuid4())} for _ in records]
