"""Telling a false write condition (an expected outcome) from a fault."""

from __future__ import annotations

from pynamodb.exceptions import PynamoDBException, TransactWriteError


def condition_failed(error: PynamoDBException) -> bool:
    """A single-item write whose condition was false: the item is not as the write required."""
    return error.cause_response_code == "ConditionalCheckFailedException"


def failed_conditions(error: TransactWriteError) -> list[bool]:
    """Per item of a cancelled transaction, whether its condition was false."""
    return [bool(reason and reason.code == "ConditionalCheckFailed") for reason in error.cancellation_reasons or []]
