"""Counting AWS API calls with a botocore event hook, for tests and benchmarks.

Every botocore session (boto3's, PynamoDB's) copies BUILTIN_HANDLERS when it is created, as moto
relies on too: importing this module before any session exists makes every client count.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass

from botocore.handlers import BUILTIN_HANDLERS

_SINGLE_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


@dataclass(frozen=True)
class Call:
    name: str  # "dynamodb.TransactWriteItems"
    thread: str
    written: tuple[str, ...] = ()  # the table of every item the request writes, once per item
    transactional: bool = False


class AwsCalls:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.log: list[Call] = []
        self.errors: Counter = Counter()  # ("dynamodb.TransactWriteItems", "TransactionCanceledException") -> n

    def __call__(self, model, params=None, **_) -> None:
        service = model.service_model.service_name
        written = _written(model.name, params) if service == "dynamodb" else ()
        transactional = model.name.startswith("Transact")
        call = Call(f"{service}.{model.name}", threading.current_thread().name, written, transactional)
        with self._lock:
            self.log.append(call)

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


def _written(operation: str, params) -> tuple[str, ...]:
    try:
        body = json.loads(params["body"])
    except (TypeError, KeyError, ValueError):
        return ()
    if operation in _SINGLE_WRITES:
        return (body["TableName"],)
    if operation == "TransactWriteItems":
        operations = (next(iter(item.items())) for item in body["TransactItems"])
        return tuple(op["TableName"] for kind, op in operations if kind != "ConditionCheck")
    if operation == "BatchWriteItem":
        return tuple(table for table, requests in body["RequestItems"].items() for _ in requests)
    return ()


AWS_CALLS = AwsCalls()
BUILTIN_HANDLERS.extend([("before-call", AWS_CALLS), ("after-call", AWS_CALLS.after_call)])
