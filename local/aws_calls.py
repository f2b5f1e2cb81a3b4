"""Counting AWS API calls with a botocore event hook, for tests and benchmarks.

Every botocore session (boto3's, PynamoDB's) copies BUILTIN_HANDLERS when it is created, as moto
relies on too: importing this module before any session exists makes every client count.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from botocore.handlers import BUILTIN_HANDLERS

_SINGLE_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


@dataclass(frozen=True)
class Call:
    name: str  # "dynamodb.TransactWriteItems"
    thread: str
    written: tuple[str, ...] = ()  # the table of every item the request writes, once per item
    transactional: bool = False
    written_keys: tuple[str, ...] = ()  # the partition key of every item it writes, in order
    sent_bytes: int = 0  # an S3 upload's body, or the bytes a ranged GET asks for: what crosses the network


@dataclass
class Invocation:
    """One function invocation's AWS calls: made by its own thread in order, or by threads it waited on."""

    function: str
    thread: str
    calls: list[Call] = field(default_factory=list)


class AwsCalls:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.log: list[Call] = []
        self.errors: Counter = Counter()  # ("dynamodb.TransactWriteItems", "TransactionCanceledException") -> n
        self.invocations: list[Invocation] = []
        self._current: Invocation | None = None

    def __call__(self, model, params=None, **_) -> None:
        service = model.service_model.service_name
        writes = _writes(model.name, params) if service == "dynamodb" else []
        written, keys = tuple(table for table, _ in writes), tuple(key for _, key in writes)
        transactional = model.name.startswith("Transact")
        sent = _sent_bytes(model.name, params) if service == "s3" else 0
        call = Call(f"{service}.{model.name}", threading.current_thread().name, written, transactional, keys, sent)
        with self._lock:
            self.log.append(call)
            if self._current is not None:
                self._current.calls.append(call)

    @contextmanager
    def invocation(self, function: str) -> Iterator[Invocation]:
        """Attribute every call until the end to one invocation of `function` (invocations are serialized
        locally, so the calls of other threads meanwhile are the ones it waits on)."""
        invocation = Invocation(function, threading.current_thread().name)
        with self._lock:
            self._current = invocation
        try:
            yield invocation
        finally:
            with self._lock:
                self._current = None
                self.invocations.append(invocation)

    @property
    def calls(self) -> list[str]:
        return [call.name for call in self.log]

    def after_call(self, model, parsed=None, **_) -> None:
        code = (parsed or {}).get("Error", {}).get("Code")
        if code:
            with self._lock:
                self.errors[(f"{model.service_model.service_name}.{model.name}", code)] += 1

    def reset(self) -> None:
        with self._lock:
            self.log.clear()
            self.errors.clear()
            self.invocations.clear()

    def counts(self) -> Counter:
        return Counter(self.calls)

    def threads_of(self, call: str) -> set[str]:
        """The threads that made `call` ("dynamodb.BatchGetItem"): more than one when sent concurrently."""
        return {made.thread for made in self.log if made.name == call}

    def items_per_request(self, call: str) -> list[int]:
        """How many items each `call` wrote, in order."""
        return [len(made.written) for made in self.log if made.name == call]

    def items_written(self, table: str) -> int:
        """Items of `table` written by every request; a transaction counts once per item of it."""
        return sum(made.written.count(table) for made in self.log)

    def write_units(self, table: str) -> int:
        """DynamoDB write request units for `table`, items assumed ≤ 1 KB: 1 an item, 2 in a transaction."""
        return sum(made.written.count(table) * (2 if made.transactional else 1) for made in self.log)


def _writes(operation: str, params) -> list[tuple[str, str]]:
    """(table, partition key) of every item a DynamoDB request writes, in order."""
    try:
        body = json.loads(params["body"])
    except (TypeError, KeyError, ValueError):
        return []
    if operation in _SINGLE_WRITES:
        return [(body["TableName"], _partition(body.get("Key") or body.get("Item")))]
    if operation == "TransactWriteItems":
        operations = (next(iter(item.items())) for item in body["TransactItems"])
        return [
            (op["TableName"], _partition(op.get("Key") or op["Item"]))
            for kind, op in operations
            if kind != "ConditionCheck"
        ]
    if operation == "BatchWriteItem":
        requests = [
            (table, next(iter(request.values()))) for table, batch in body["RequestItems"].items() for request in batch
        ]
        return [(table, _partition(request.get("Key") or request["Item"])) for table, request in requests]
    return []


def _sent_bytes(operation: str, params) -> int:
    if operation in ("PutObject", "UploadPart"):
        body = (params or {}).get("body")
        return len(body) if isinstance(body, bytes | bytearray) else getattr(body, "_size", 0) or 0
    if operation == "GetObject" and (ranged := ((params or {}).get("headers") or {}).get("Range")):
        start, end = ranged.removeprefix("bytes=").split("-")
        return int(end) - int(start) + 1
    return 0


def _partition(key: dict) -> str:
    """An item's partition key value: every table here keys its items by `pk`."""
    [(_, value)] = key["pk"].items()
    return value


AWS_CALLS = AwsCalls()
BUILTIN_HANDLERS.extend([("before-call", AWS_CALLS), ("after-call", AWS_CALLS.after_call)])
