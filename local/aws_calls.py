"""Counting AWS API calls with a botocore event hook, for tests and benchmarks.

Every botocore session (boto3's, PynamoDB's) copies BUILTIN_HANDLERS when it is created, as
moto relies on too: importing this module before any session exists makes every client count.
"""

from __future__ import annotations

import json
import threading
from collections import Counter

from botocore.handlers import BUILTIN_HANDLERS


class AwsCalls:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.tables: list[str | None] = []
        self.threads: list[str] = []

    def __call__(self, model, params=None, **_) -> None:
        self.calls.append(f"{model.service_model.service_name}.{model.name}")
        self.tables.append(_table_of(params) if model.service_model.service_name == "dynamodb" else None)
        self.threads.append(threading.current_thread().name)

    def reset(self) -> None:
        self.calls.clear()
        self.tables.clear()
        self.threads.clear()

    def counts(self) -> Counter:
        return Counter(self.calls)

    def threads_of(self, call: str) -> set[str]:
        """The threads that made `call` ("dynamodb.BatchGetItem"): more than one when sent concurrently."""
        return {thread for made, thread in zip(self.calls, self.threads, strict=True) if made == call}

    def writes_to(self, table: str) -> int:
        """Requests that wrote an item of `table`; a transaction counts once per item of it."""
        return sum(
            1
            for call, written in zip(self.calls, self.tables, strict=True)
            if written == table and call in ("dynamodb.UpdateItem", "dynamodb.PutItem", "dynamodb.TransactWriteItems")
        )


def _table_of(params) -> str | None:
    try:
        body = json.loads(params["body"])
    except (TypeError, KeyError, ValueError):
        return None
    if "TableName" in body:
        return body["TableName"]
    items = body.get("TransactItems", [])
    names = {next(iter(item.values()))["TableName"] for item in items}
    return names.pop() if len(names) == 1 else None


AWS_CALLS = AwsCalls()
BUILTIN_HANDLERS.append(("before-call", AWS_CALLS))
