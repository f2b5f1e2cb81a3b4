"""Imports on moto: end to end against bare writes; planning alone at 10^6 and 10^7 members; ten apply
workers at once on one audience. Each invocation's AWS calls are recorded, and where its writes landed."""

from __future__ import annotations

import gzip
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

from bench import aws_model
from bench.harness import MEMBERSHIPS, PLAN, T, fresh_aws, key_heat, lww_update, timed
from local import provision
from local.aws_calls import AWS_CALLS, Invocation

SEGMENT, AUDIENCE = "imp_seg", "imp"


def upload(values, seconds_later: float = 0.0, scratch: Path | None = None):
    """An ODP audience file of `values` in the imports bucket, as the importer's notification would name it."""
    from audiences import importer

    header = "type,action,audience_id,ts,fs_user_id\n"
    key, bucket = f"demo/audience-diffs/{SEGMENT}.csv.gz", PLAN.names["ImportsBucket"]
    s3 = boto3.client("s3", region_name=provision.REGION)
    if scratch is None:
        data = gzip.compress((header + "".join(f"passthrough,qualify,{AUDIENCE},{T},{v}\n" for v in values)).encode())
        etag, size = s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"], len(data)
    else:  # millions of rows: written and uploaded from a file
        path = scratch / "members.csv.gz"
        with gzip.open(path, "wt", compresslevel=1) as out:
            out.write(header)
            out.writelines(f"passthrough,qualify,{AUDIENCE},{T},{v}\n" for v in values)
        s3.upload_file(str(path), bucket, key)
        etag, size = s3.head_object(Bucket=bucket, Key=key)["ETag"], path.stat().st_size
    return importer.Upload(bucket, key, etag, size, time.time() + seconds_later)


def imported(notification) -> Invocation:
    """The imports function's work on one upload, as one invocation: read, diff, plan, queue."""
    from audiences import importer
    from audiences.odp.audience_file import AudienceFile
    from audiences.odp.uploads import LAYOUT

    with AWS_CALLS.invocation("ImportsFunction") as invocation:
        importer.process(notification, AudienceFile, LAYOUT)
    return invocation


def apply_queued(workers: int = 1) -> list[Invocation]:
    """Every queued chunk, applied as ApplyFunction would by `workers` at once; an invocation per chunk
    (with several workers, their calls interleave: only the first worker's are recorded as invocations)."""
    from audiences import importer

    sqs = boto3.client("sqs", region_name=provision.REGION)
    url = sqs.get_queue_url(QueueName=PLAN.names["ApplyQueue"])["QueueUrl"]
    invocations: list[Invocation] = []
    lock = threading.Lock()

    def worker() -> None:
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages"):
            for message in messages:
                for chunk in importer.chunks(message["Body"]):
                    if workers == 1:
                        with AWS_CALLS.invocation("ApplyFunction") as invocation:
                            importer.apply_chunk(chunk)
                        invocations.append(invocation)
                    else:
                        importer.apply_chunk(chunk)
                        with lock:
                            invocations.append(Invocation("ApplyFunction", threading.current_thread().name))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    with ThreadPoolExecutor(workers, thread_name_prefix="worker") as pool:
        for running in [pool.submit(worker) for _ in range(workers)]:
            running.result()
    return invocations


def chain(invocation: Invocation) -> dict:
    return {
        "calls": len(invocation.calls),
        "sequential_calls": aws_model.sequential_calls(invocation),
        "modeled_aws_seconds": aws_model.chain_seconds(invocation),
    }


def bench_import_end_to_end() -> dict:
    from audiences.domain import OPERATOR, Audience
    from audiences.stores import catalog as catalog_store
    from audiences.stores import imports as import_store
    from local.key_heat import KEY_HEAT

    rng = random.Random(17)
    members = [f"user-{n}" for n in rng.sample(range(1_000_000), 10_500)]
    first, second = members[:10_000], members[500:10_500]  # 5% leave, 5% join: 10% churn
    with fresh_aws():
        catalog_store.create_audience("demo", Audience(SEGMENT, AUDIENCE), OPERATOR)
        imported(upload(first))
        first_applies = apply_queued()
        assert import_store.page("demo", None, None, None, 1)[0][0].qualified == 10_000
        second_upload = upload(second, 1)
        AWS_CALLS.reset()
        KEY_HEAT.reset()
        started = time.perf_counter()
        planning_invocation = imported(second_upload)
        planning = time.perf_counter() - started
        planned = AWS_CALLS.counts()
        started = time.perf_counter()
        applies = apply_queued()
        applying = time.perf_counter() - started
        ours = planning + applying
        record = import_store.get("demo", second_upload.import_id)
        assert record.status.value == "SUCCESS", record
        items, units = AWS_CALLS.items_written(MEMBERSHIPS), AWS_CALLS.write_units(MEMBERSHIPS)
        changes = record.qualified + record.disqualified
        heat = key_heat(changes)
        counts = AWS_CALLS.counts()
        applied_counts = {call: counts[call] - planned.get(call, 0) for call in counts}
        dynamodb = boto3.client("dynamodb", region_name=provision.REGION)
        joined, left = set(second) - set(first), set(first) - set(second)

        def baseline():
            for value in joined:
                lww_update(dynamodb, f"base#fs_user_id#{value}", AUDIENCE, "qualified", T + 1)
            for value in left:
                lww_update(dynamodb, f"base#fs_user_id#{value}", AUDIENCE, "disqualified", T + 1)

        base = timed(baseline)
    return {
        "members": len(second),
        "changes": changes,
        "ours_seconds": ours,
        "baseline_seconds": base,
        "ratio": ours / base,
        "write_amplification": {
            "requests_per_change": counts["dynamodb.TransactWriteItems"] / changes,
            "items_per_change": items / changes,
            "write_units_per_change": units / changes,
        },
        "apply": {
            "chunks": len(applies),
            "changes_per_second_per_worker": changes / applying,
            "aws_requests_per_change": sum(applied_counts.values()) / changes,
            "planning_seconds": planning,
            "planning_requests": dict(planned),
            "planning_chain": chain(planning_invocation),
            "chunk_chains": [chain(invocation) for invocation in applies],
            "first_import_chunk_chains": [chain(invocation) for invocation in first_applies],
        },
        "key_heat": heat,
        "requests": dict(counts),
        "target": "ratio <= 0.6 and items written per change <= 1.1",
    }


def bench_planning(members_total: int, scratch: Path) -> dict:
    """A first import of `members_total` members read, diffed and planned by the imports function on moto
    (not applied): its compute time, and its chain of AWS calls to model on AWS."""
    from audiences.domain import OPERATOR, Audience
    from audiences.stores import catalog as catalog_store

    values = (f"user-{n:09d}" for n in range(members_total))
    with fresh_aws():
        catalog_store.create_audience("demo", Audience(SEGMENT, AUDIENCE), OPERATOR)
        notification = upload(values, scratch=scratch)
        AWS_CALLS.reset()
        started = time.perf_counter()
        invocation = imported(notification)
        seconds = time.perf_counter() - started
        counts = AWS_CALLS.counts()
    return {
        "members": members_total,
        "seconds_on_moto": seconds,
        **chain(invocation),
        "requests": dict(counts),
    }


def bench_conflicts(workers: int = 10, changes: int = 10_000, chunk_changes: int = 1_000) -> dict:
    """`workers` apply workers at once on one audience's first import, with DynamoDB's transaction
    conflicts modeled (local/moto_fidelity.py): transactions cancelled per change, sizes exact."""
    from audiences import memberships
    from audiences.domain import OPERATOR, Audience
    from audiences.importer import planning
    from audiences.stores import catalog as catalog_store
    from local.moto_fidelity import CONFLICTS

    with fresh_aws():
        catalog_store.create_audience("demo", Audience(SEGMENT, AUDIENCE), OPERATOR)
        default_chunk, planning.CHUNK_CHANGES = planning.CHUNK_CHANGES, chunk_changes  # enough chunks for each worker
        try:
            imported(upload([f"user-{n}" for n in range(changes)]))
        finally:
            planning.CHUNK_CHANGES = default_chunk
        before = CONFLICTS.cancelled["transactions"]
        AWS_CALLS.reset()
        seconds = timed(lambda: apply_queued(workers))
        cancelled = CONFLICTS.cancelled["transactions"] - before
        size = memberships.audience_size("demo", AUDIENCE)
        transactions = AWS_CALLS.counts()["dynamodb.TransactWriteItems"]
    assert size == changes, f"{workers} workers left a size of {size} for {changes} joins"
    return {
        "workers": workers,
        "changes": changes,
        "chunks": changes // chunk_changes,
        "seconds": seconds,
        "transactions": transactions,
        "cancelled_transactions": cancelled,
        "cancelled_per_change": cancelled / changes,
        "size_exact": True,
        "target": "<= 0.05 cancelled transactions per change at 10 workers",
    }
