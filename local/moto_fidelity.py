"""Two places where moto's DynamoDB differs from DynamoDB in ways our write path depends on.

1. Concurrency. moto serves requests from several threads with no locking, and its
   TransactWriteItems deep-copies whole tables while other threads write to them. DynamoDB
   is linearizable per item; serializing moto's DynamoDB requests gives that.
2. Transactions. moto snapshots every table a transaction touches and, on a failed
   condition, swaps the snapshot back: O(table size) per transaction, and a concurrent
   write that landed in between is lost. DynamoDB checks every condition before writing
   anything. `_transact_write_items` does the same: check all, then apply, undoing only the
   items it wrote if applying fails.
"""

from __future__ import annotations

import copy
import threading

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

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
            expression = {
                "condition_expression": op.get("ConditionExpression"),
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
