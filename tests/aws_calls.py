"""Counting AWS API calls with a botocore event hook: what each request really costs."""

from __future__ import annotations

from collections import Counter

from botocore.handlers import BUILTIN_HANDLERS


class AwsCalls:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, model, **_) -> None:
        self.calls.append(f"{model.service_model.service_name}.{model.name}")

    def reset(self) -> None:
        self.calls.clear()

    def counts(self) -> Counter:
        return Counter(self.calls)


# Every botocore session (boto3's, PynamoDB's) copies BUILTIN_HANDLERS when created, as moto
# relies on too; so this must run before any session exists: the root conftest imports it.
AWS_CALLS = AwsCalls()
BUILTIN_HANDLERS.append(("before-call", AWS_CALLS))
