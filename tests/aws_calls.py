"""Failing AWS API calls with botocore event hooks: the AWS boundary, nothing of ours.

Counting lives in local.aws_calls (benchmarks count too); it is re-exported here for tests.
"""

from __future__ import annotations

import itertools
import json
import threading

from botocore.awsrequest import AWSResponse
from botocore.handlers import BUILTIN_HANDLERS

from local.aws_calls import AWS_CALLS  # noqa: F401  (counts before the fault hooks run)


class InjectedFault(Exception):
    """A crash injected around an AWS call."""


class AwsFaults:
    """Fails the n-th AWS call after arming (of one operation, if named): before AWS sees it, or after
    AWS applied it (the answer lost)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.disarm()

    def arm(self, index: int, when: str, operation: str | None = None) -> None:
        assert when in ("before", "after")
        with self._lock:
            self.index, self.when, self._numbers, self.fired = index, when, itertools.count(), False
            self.operation = operation

    def disarm(self) -> None:
        self.arm(-1, "before")

    def before_call(self, context, model, **_) -> None:
        if self.operation is not None and model.name != self.operation:
            return
        with self._lock:
            context["call_number"] = number = next(self._numbers)
        if number == self.index and self.when == "before":
            self.fired = True
            raise InjectedFault(f"crash before AWS call {number}")

    def after_call(self, context, **_) -> None:
        if context.get("call_number") == self.index and self.when == "after":
            self.fired = True
            raise InjectedFault(f"crash after AWS call {context['call_number']}")


_READS = ("Get", "BatchGet", "Query", "Scan", "List", "Head", "Describe")


def crash_points(calls: list[str], when: str) -> list[int]:
    """The indices of `calls` ("service.Operation") where a crash `when` leaves a state of its own. A crash
    after a call that only reads leaves what a crash before the next call leaves, so those are left to
    the "before" run, except after the last call (then nothing follows)."""
    if when == "before":
        return list(range(len(calls)))
    return [n for n, call in enumerate(calls) if n == len(calls) - 1 or not call.split(".")[1].startswith(_READS)]


class DynamoDbConflicts:
    """Answers the next N TransactWriteItems as DynamoDB does when another transaction holds an item
    (or with another cancellation `code`: "ThrottlingError", …): its first item, or with `last`, its
    last one (a membership write's size shard).

    A before-call handler's answer replaces the request: AWS never sees it.
    """

    def __init__(self) -> None:
        self.remaining = 0
        self.code = "TransactionConflict"
        self.last = False
        self._lock = threading.Lock()

    def __call__(self, model, params, **_):
        if model.name != "TransactWriteItems":
            return None
        with self._lock:
            if self.remaining <= 0:
                return None
            self.remaining -= 1
        items = json.loads(params["body"])["TransactItems"]  # params: the serialized request
        reasons = [{"Code": "None"}] * (len(items) - 1)
        held = {"Code": self.code, "Message": f"{self.code} for the item"}
        reasons = [*reasons, held] if self.last else [held, *reasons]
        parsed = {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": reasons,
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return AWSResponse("https://dynamodb", 400, {}, None), parsed


# Every botocore session (boto3's, PynamoDB's) copies BUILTIN_HANDLERS when created, as moto
# relies on too; so this must run before any session exists: the root conftest imports it.
AWS_FAULTS = AwsFaults()
DYNAMODB_CONFLICTS = DynamoDbConflicts()
BUILTIN_HANDLERS.extend(
    [
        ("before-call", AWS_FAULTS.before_call),
        ("before-call", DYNAMODB_CONFLICTS),
        ("after-call", AWS_FAULTS.after_call),
    ]
)
