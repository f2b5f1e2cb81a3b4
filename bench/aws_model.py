"""AWS's limits, latencies and prices: what turns the bench's counts into AWS time, ceilings and cost.

moto has no partitions, throttling or network. What the bench counts carries over to AWS as it is:
requests, the write units each table, index and partition key takes (local/key_heat.py), and the
calls each invocation makes one after another (local/aws_calls.py). These constants turn them into
seconds, changes a second and dollars; docs/performance.md cites each one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from local.aws_calls import Invocation

# DynamoDB (developer guide: "Partitions and data distribution", "On-demand capacity mode",
# "Service quotas"; Knowledge Center: "on-demand table throttling").
PARTITION_WRITE_UNITS = 1_000  # a second, per partition key, on a table and on each GSI alike
NEW_TABLE_WRITE_UNITS = 4_000  # a second: what a new on-demand table (and a new GSI) serves at once
DOUBLING_SECONDS = 30 * 60  # on-demand serves up to double its previous peak, reached within 30 minutes
TABLE_WRITE_UNITS = 40_000  # a second, per table and per GSI: the default on-demand maximum (adjustable)
PREWARMED_WRITE_UNITS = 80_000  # a second: warm throughput set ahead, after raising the table quota to it

# Per-request latencies in one Region (assumed from each service's documentation: DynamoDB "single-digit
# milliseconds"; S3 "100-200 milliseconds" for small objects and a first byte; SQS and Firehose "tens of
# milliseconds" and this project's assumption since 2026-11, 15 ms).
LATENCY_SECONDS = {
    "dynamodb.GetItem": 0.005,
    "dynamodb.Query": 0.008,
    "dynamodb.BatchGetItem": 0.008,
    "dynamodb.PutItem": 0.006,
    "dynamodb.UpdateItem": 0.006,
    "dynamodb.DeleteItem": 0.006,
    "dynamodb.TransactWriteItems": 0.015,
    "firehose.PutRecordBatch": 0.015,
}
DEFAULT_LATENCY = {"dynamodb": 0.008, "s3": 0.150, "sqs": 0.020, "firehose": 0.015}
S3_BYTES_PER_SECOND = 90e6  # one connection from Lambda to S3 in the Region (S3 performance guidelines: ~85-90 MB/s)

# Timeouts and quotas of what a stream of events passes through (template.yaml; "Amazon API Gateway
# quotas", "Amazon Data Firehose quotas" for us-east-1, us-west-2 and eu-west-1, "Lambda quotas").
API_ACCOUNT_REQUESTS = 10_000  # a second, per account and Region, every API together (adjustable)
FIREHOSE_REQUESTS = 2_000  # PutRecordBatch requests a second, per stream (adjustable)
FIREHOSE_RECORDS = 500_000  # records a second, per stream
FIREHOSE_BYTES = 5 * 1024 * 1024  # a second, per stream (adjustable)
FIREHOSE_ACTIVE_PARTITIONS = 500  # per stream (up to 5,000 on request): past it, records go to the error prefix
LAMBDA_CONCURRENCY = 1_000  # per account and Region (adjustable)

# us-east-1 on-demand prices, December 2026 (each service's pricing page).
PRICE_PER_MILLION_WRITE_UNITS = 0.625
PRICE_PER_GB_SECOND_ARM = 0.0000133334
PRICE_PER_MILLION_LAMBDA_REQUESTS = 0.20
PRICE_PER_THOUSAND_S3_PUTS = 0.005
PRICE_PER_THOUSAND_S3_GETS = 0.0004
PRICE_PER_MILLION_SQS_REQUESTS = 0.40


def latency(name: str, sent_bytes: int = 0) -> float:
    service = name.split(".", 1)[0]
    seconds = LATENCY_SECONDS.get(name, DEFAULT_LATENCY.get(service, 0.020))
    return seconds + (sent_bytes / S3_BYTES_PER_SECOND if service == "s3" else 0.0)


def chain_seconds(invocation: Invocation) -> float:
    """An invocation's AWS time: its own thread's calls one after another; between two of them, the calls
    of the threads it waited on, each thread's in turn, as long as the busiest thread took."""
    total, waited = 0.0, {}
    for call in invocation.calls:
        if call.thread == invocation.thread:
            total += max(waited.values(), default=0.0) + latency(call.name, call.sent_bytes)
            waited = {}
        else:
            waited[call.thread] = waited.get(call.thread, 0.0) + latency(call.name, call.sent_bytes)
    return total + max(waited.values(), default=0.0)


def sequential_calls(invocation: Invocation) -> int:
    """Its longest chain of calls one after another: its own, and the busiest waited-on thread's between."""
    total, waited = 0, {}
    for call in invocation.calls:
        if call.thread == invocation.thread:
            total += max(waited.values(), default=0) + 1
            waited = {}
        else:
            waited[call.thread] = waited.get(call.thread, 0) + 1
    return total + max(waited.values(), default=0)


def seconds_to_write(write_units: float, ceiling: float, start: float | None = None) -> float:
    """How long on-demand DynamoDB takes to accept `write_units` at up to `ceiling` a second, starting from
    `start` a second (a new table) and doubling every DOUBLING_SECONDS until the ceiling."""
    if start is None or start >= ceiling:
        return write_units / ceiling
    doublings = math.log2(ceiling / start)
    ramp_seconds = doublings * DOUBLING_SECONDS
    ramp_units = start * DOUBLING_SECONDS / math.log(2) * (ceiling / start - 1)
    if write_units <= ramp_units:
        return DOUBLING_SECONDS * math.log2(1 + write_units * math.log(2) / (start * DOUBLING_SECONDS))
    return ramp_seconds + (write_units - ramp_units) / ceiling


@dataclass(frozen=True)
class Quota:
    name: str
    limit: float
    needed: float
    raise_by: str  # what reaches more: a template setting or a quota request

    @property
    def headroom(self) -> float:
        return self.limit / self.needed if self.needed else math.inf
