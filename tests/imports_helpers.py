"""Uploading audience files and letting the imports and apply functions consume their queues: on moto, or on
the in-memory stores when a test installed them (tests/rules)."""

from __future__ import annotations

import gzip
import zlib

import boto3

from audiences.fakes.queues import InMemoryQueues
from audiences.wiring import stores
from local.poller import QueuePoller
from local.provision import REGION
from tests.conftest import PLAN
from tests.rules import queues as memory_queues

T = 1_748_851_070
HEADER = "type,action,audience_id,ts,fs_user_id\n"


def csv_gz(members, audience: str = "vip", ts: int = T, header: str = HEADER) -> bytes:
    rows = "".join(f"passthrough,qualify,{audience},{ts},{member}\n" for member in members)
    return gzip.compress((header + rows).encode(), mtime=0)


def in_memory() -> bool:
    return isinstance(stores().queues, InMemoryQueues)


def upload(data: bytes, key: str = "demo/audience-diffs/vip_users.csv.gz") -> None:
    if in_memory():
        stores().objects.upload(key, data)
    else:
        boto3.client("s3", region_name=REGION).put_object(Bucket=PLAN.names["ImportsBucket"], Key=key, Body=data)


def imports_poller(functions) -> QueuePoller:
    return QueuePoller(functions["ImportsFunction"], PLAN.names["ImportsQueue"], retry_after_seconds=0, batch_size=1)


def apply_poller(functions) -> QueuePoller:
    return QueuePoller(functions["ApplyFunction"], PLAN.names["ApplyQueue"], retry_after_seconds=0, batch_size=1)


def privacy_poller(functions) -> QueuePoller:
    return QueuePoller(functions["PrivacyFunction"], PLAN.names["PrivacyQueue"], retry_after_seconds=0, batch_size=1)


def drain(functions, limit: int = 1000) -> int:
    """Process every queued notification, every chunk it queues and every privacy job's step (failed ones come
    straight back); returns receives."""
    if in_memory():
        return memory_queues.drain(functions, limit)
    pollers, received = (imports_poller(functions), apply_poller(functions), privacy_poller(functions)), 0
    while received < limit and (polled := sum(poller.poll_once() for poller in pollers)):
        received += polled
    return received


def crash_then_redeliver(
    functions, fault: tuple[int, str] | None, chunk: bool = False, poller: QueuePoller | None = None
) -> list[str]:
    """Take the one queued import message (or, with `chunk`, the last chunk its import queues; or the one
    message of `poller`'s queue), process it with `fault` armed (a crash before or after that AWS call),
    then let the queues redeliver until done; returns the AWS calls of the first try."""
    from tests.aws_calls import AWS_CALLS, AWS_FAULTS

    poller = poller or imports_poller(functions)
    if chunk:  # the import, then every chunk but the last
        while poller.poll_once():
            pass
        poller = apply_poller(functions)
        while int(poller.sqs.get_queue_attributes(QueueUrl=poller.queue_url, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]) > 1:  # fmt: skip
            poller.poll_once()
    queue = {"QueueUrl": poller.queue_url}
    [message] = poller.sqs.receive_message(**queue, VisibilityTimeout=0, AttributeNames=["All"])["Messages"]
    if fault:
        AWS_FAULTS.arm(*fault)
    AWS_CALLS.reset()
    try:
        poller.function.invoke({"Records": [poller.event_record(message)]})
    except Exception:
        assert fault, "only an injected crash may fail the message's work"
    finally:
        fired = AWS_FAULTS.fired
        AWS_FAULTS.disarm()
    calls = list(AWS_CALLS.calls)
    assert fired or not fault, f"the crash {fault} never happened"
    drain(functions)  # the redelivery
    return calls


def one_huge_line(total_bytes: int) -> bytes:
    """The reported file: a valid header, then one line of `total_bytes`, gzipped to about 1% of it."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    parts = [packer.compress(b"type,action,audience_id,ts,fs_user_id\n")]
    block = b"x" * (1024 * 1024)
    parts += [packer.compress(block) for _ in range(total_bytes // len(block))]
    return b"".join(parts) + packer.flush()
