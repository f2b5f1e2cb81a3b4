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
5. Transaction conflicts. Two DynamoDB transactions in flight at once that touch one item: one
   is cancelled (`TransactionConflict`); a single write to an item a transaction in flight holds
   fails (`TransactionConflictException`). moto serializes requests and never does either.
   `Conflicts` does: a request is in flight from its arrival until it is answered, and a
   transaction that committed while another request touching one of its items was in flight
   cancels that request. moto's own serialized execution stands in for DynamoDB's latency: with
   N callers sending at once, N requests are in flight here as there (more, if moto is slower
   than DynamoDB: the cancellations counted here are an upper bound).
6. Partitions. Every item written is reported to `local.key_heat.KEY_HEAT`, as it was and as it
   is, so the write units each table, index and partition key took can be measured.
7. Index queries. moto sorts the whole table on every Query, and compares every item to the
   index's key through its typed values: a Query of one audience's index partition took 0.2-0.8 s
   on a table of 10^4 items. DynamoDB reads only that partition's key range; `_partition_first`
   narrows an index Query to the items in it (the table's items grouped by index key once per
   write) before moto's own Query runs, which then answers exactly as before.
8. Conditional completion. S3 completes a multipart upload only if the object at its key is still
   the one its If-Match names (as for a PutObject); moto completes it whatever the key holds. The
   completion checks it here first, answering as S3 does (PreconditionFailed; NoSuchKey if none).
"""

from __future__ import annotations

import copy
import gzip
import itertools
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from moto.core.utils import utcnow
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    DynamodbException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.firehose.models import FirehoseBackend
from moto.moto_api._internal import mock_random
from moto.s3.exceptions import MissingKey, NoSuchUpload, PreconditionFailed
from moto.s3.models import S3Backend, s3_backends
from moto.s3.responses import S3Response

from local.key_heat import KEY_HEAT, Index

_OPERATIONS = {"ConditionCheck", "Put", "Delete", "Update"}
_lock = threading.RLock()
_installed = False
_writing = threading.local()  # .transactional: the item writes under way belong to a transaction


class TransactionConflictException(DynamodbException):
    error_type = "com.amazonaws.dynamodb.v20120810#TransactionConflictException"

    def __init__(self) -> None:
        super().__init__(self.error_type, message="Transaction is ongoing for the item")


class Conflicts:
    """Which requests DynamoDB would have found in flight together, and what they held."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ticks = itertools.count()  # logical time: arrivals and commits, in order
        self._in_flight: Counter[int] = Counter()  # arrival ticks of requests not yet answered
        self._committed: list[tuple[int, frozenset]] = []  # (commit tick, items) of transactions
        self._arrival = threading.local()
        self.cancelled = Counter()  # "transactions", "writes" refused for a conflict

    @contextmanager
    def request(self) -> Iterator[None]:
        """One request's flight, from its arrival (before it waits for moto) until it is answered."""
        with self._lock:
            tick = next(self._ticks)
            self._in_flight[tick] += 1
        self._arrival.tick = tick
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= Counter({tick: 1})
                oldest = min(self._in_flight, default=None)
                # What committed before every request still in flight arrived can conflict with none.
                self._committed = [c for c in self._committed if oldest is not None and c[0] > oldest]

    def held(self, items: set) -> set:
        """The items a transaction committed while this request was in flight holds."""
        arrival = getattr(self._arrival, "tick", None)
        with self._lock:
            held = (items & held for tick, held in self._committed if arrival is not None and tick > arrival)
            return set().union(*held)

    def commit(self, items: set) -> None:
        with self._lock:
            self._committed.append((next(self._ticks), frozenset(items)))

    def refuse(self, kind: str) -> None:
        with self._lock:
            self.cancelled[kind] += 1


CONFLICTS = Conflicts()


def install() -> None:
    global _installed
    if _installed:
        return
    call_action = DynamoHandler.call_action

    def serialized(self):
        with CONFLICTS.request(), _lock:
            return call_action(self)

    DynamoHandler.call_action = serialized
    DynamoDBBackend.transact_write_items = _transact_write_items
    Table.query = _partition_first(Table.query)
    for operation in ("put_item", "update_item", "delete_item"):
        setattr(DynamoDBBackend, operation, _reported(getattr(DynamoDBBackend, operation)))
    FirehoseBackend.put_s3_records = _put_s3_records
    key_post = S3Response._key_response_post

    def upload_of_its_key(self, request, body, bucket_name, query, key_name):
        if upload_id := (query.get("uploadId") or [None])[0]:
            existing = self.backend.get_object(bucket_name, key_name)
            completed = existing is not None and existing.multipart and existing.multipart.id == upload_id
            multipart = self.backend.get_bucket(bucket_name).multiparts.get(upload_id)
            if not completed and (multipart is None or multipart.key_name != key_name):
                raise NoSuchUpload(upload_id)
            if if_match := request.headers.get("If-Match"):
                if existing is None:
                    raise MissingKey(key=key_name)
                if existing.etag.strip('"') != if_match.strip('"'):
                    raise PreconditionFailed("If-Match")
        return key_post(self, request, body, bucket_name, query, key_name)

    S3Response._key_response_post = upload_of_its_key
    put_object = S3Backend.put_object

    def announced_once(self, *args, **kwargs):
        if kwargs.get("multipart") is not None:  # completing: the completion announces it
            kwargs["disable_notification"] = True
        return put_object(self, *args, **kwargs)

    S3Backend.put_object = announced_once
    _installed = True


_written_tables: Counter[str] = Counter()  # writes per table: what invalidates the index partitions below
_partitions: dict[tuple[str, tuple[str, ...]], tuple[int, dict[tuple, list]]] = {}


def _partition_first(query):
    def partition_first(self: Table, *args, **kwargs):
        index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
        conditions = kwargs.get("hash_key_conditions")
        if not index_name or not conditions:
            return query(self, *args, **kwargs)
        names = tuple(name for name, _ in conditions)
        matching = _index_partitions(self, names).get(tuple((v.type, v.value) for _, v in conditions), [])
        comparison, operands = (args[1], args[2]) if len(args) > 2 else (None, None)
        if comparison:  # and only its key range, as DynamoDB reads it (moto checks the range again)
            [index] = [index for index in self.global_indexes if index.name == index_name]
            range_key = next((k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"), None)
            matching = [item for item in matching if _in_range(item, range_key, comparison, operands)]
        self.all_items = lambda: list(matching)  # for this call only: moto's Query reads its candidates from it
        try:
            return query(self, *args, **kwargs)
        finally:
            del self.all_items

    return partition_first


def _in_range(item, range_key: str | None, comparison: str, operands) -> bool:
    value = item.attrs.get(range_key) if range_key else None
    return value is not None and value.compare(comparison, operands)


def _index_partitions(table: Table, names: tuple[str, ...]) -> dict[tuple, list]:
    """The table's items by the values of `names` (an index's hash key), as of the table's last write."""
    cached = _partitions.get((table.name, names))
    if cached is None or cached[0] != _written_tables[table.name]:
        grouped: dict[tuple, list] = {}
        for held in table.items.values():
            for item in held.values() if table.range_key_attr else [held]:
                values = [item.attrs.get(name) for name in names]
                if all(value is not None for value in values):
                    grouped.setdefault(tuple((v.type, v.value) for v in values), []).append(item)
        cached = _partitions[(table.name, names)] = (_written_tables[table.name], grouped)
    return cached[1]


def _key(backend: DynamoDBBackend, op_type: str, op: dict) -> dict:
    if op_type != "Put":
        return op["Key"]
    table = backend.get_table(op["TableName"])
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return {name: op["Item"][name] for name in names}


def _indexes(table) -> list[Index]:
    indexes = []
    for index in table.global_indexes:
        keys = {key["KeyType"]: key["AttributeName"] for key in index.schema}
        projection = index.projection or {}
        indexes.append(
            Index(
                index.name,
                keys["HASH"],
                keys.get("RANGE"),
                projection.get("ProjectionType", "ALL"),
                tuple(table.table_key_attrs),
                tuple(projection.get("NonKeyAttributes", [])),
            )
        )
    return indexes


def _stored(backend: DynamoDBBackend, table, key: dict) -> dict | None:
    item = table.get_item(*backend.get_keys_value(table, key))
    return copy.deepcopy(item.to_json()["Attributes"]) if item else None


def _reported(write):
    """A backend item write (put, update, delete), reported to KEY_HEAT with the item before and after;
    outside a transaction, refused if a transaction in flight holds the item."""

    def reported(self: DynamoDBBackend, table_name: str, item_or_key: dict, *args, **kwargs):
        table = self.get_table(table_name)
        key = {name: item_or_key[name] for name in table.table_key_attrs if name in item_or_key}
        transactional = getattr(_writing, "transactional", False)
        if not transactional and CONFLICTS.held({_identity(table_name, key)}):
            CONFLICTS.refuse("writes")
            raise TransactionConflictException()
        before = _stored(self, table, key)
        _written_tables[table_name] += 1
        try:
            result = write(self, table_name, item_or_key, *args, **kwargs)
        except DynamodbException:  # a false condition: charged all the same
            KEY_HEAT.record_failed(table_name, str(next(iter(key[table.hash_key_attr].values()))))
            raise
        after = _stored(self, table, key)
        KEY_HEAT.record(table_name, table.hash_key_attr, _indexes(table), before, after, transactional=transactional)
        return result

    return reported


def _identity(table_name: str, key: dict) -> tuple[str, str]:
    return table_name, str(sorted(key.items()))


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    identities = []
    for entry in transact_items:
        [(op_type, op)] = entry.items() if len(entry) == 1 else [(None, {})]
        if op_type in _OPERATIONS:
            identities.append(_identity(op["TableName"], _key(self, op_type, op)))
    if held := CONFLICTS.held(set(identities)):
        CONFLICTS.refuse("transactions")
        conflict, other = ("TransactionConflict", "Transaction is ongoing for the item", None), (None, None, None)
        raise TransactionCanceledException([conflict if identity in held else other for identity in identities])
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
    _writing.transactional = True
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
            _written_tables[table_name] += 1
            table = self.get_table(table_name)
            if before is None:
                table.delete_item(*self.get_keys_value(table, key))
            else:
                table.put_item(before.to_json()["Attributes"], overwrite=True)
        raise
    finally:
        _writing.transactional = False
    CONFLICTS.commit(set(identities))


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
