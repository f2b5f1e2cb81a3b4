"""AWS physics the bench measures and models: where ingest's writes land, and what 10^8 members and
10^4 events a second come to on AWS, from the counts measured in this run and the constants of
bench/aws_model.py (docs/performance.md cites each)."""

from __future__ import annotations

import math

from bench import aws_model
from bench.harness import SPEC, T, call, fresh_aws, fresh_transitions, key_heat, passthrough
from local.aws_calls import AWS_CALLS
from local.gateway import Router
from local.key_heat import KEY_HEAT

MEMBERS = 100_000_000
CHURN = 0.01
APPLY_WORKERS = 10  # ApplyFunction's reserved concurrency (template.yaml)
REFERENCE_EVENTS_PER_REQUEST = 10  # the SDKs send 1 to 10 events a request
RECORD_BYTES = 1_024  # an import's activity record with its plan, about
CHUNK_NUMBER_BYTES = 5  # one number of its set of applied chunks


def bench_ingest_heat(functions) -> dict:
    """Where ingest's write units land: 10,000 changes to one audience in uploads of 500 and of 1, and to
    one tenant's 50 audiences in uploads of 500; with each upload's modeled time on AWS."""
    scenarios = {
        "one_audience": (fresh_transitions(audiences=1), 500),
        "one_audience_1_event_requests": (fresh_transitions(audiences=1)[:1000], 1),
        "one_tenant_50_audiences": (fresh_transitions(audiences=50), 500),
    }
    results = {}
    for name, (events, size) in scenarios.items():
        with fresh_aws() as keys:
            router = Router(list(functions.values()))
            call(router, "POST", "/v3/events", keys["DEMO_PUBLIC_KEY"], [passthrough("qualify", "warm", "w", T)])
            AWS_CALLS.reset()
            KEY_HEAT.reset()
            for start in range(0, len(events), size):
                call(router, "POST", "/v3/events", keys["DEMO_PUBLIC_KEY"], events[start : start + size])
            uploads = AWS_CALLS.invocations
            results[name] = {
                "events_per_request": size,
                **key_heat(len(events)),
                "modeled_aws_seconds_per_upload": sum(map(aws_model.chain_seconds, uploads)) / len(uploads),
                "sequential_calls_per_upload": max(map(aws_model.sequential_calls, uploads)),
            }
    return results


def _extrapolated(small: float, large: float, small_n: int, large_n: int, n: int) -> float:
    """A figure at n, from two measured at small_n < large_n, growing linearly past large_n."""
    return large + (large - small) / (large_n - small_n) * (n - large_n)


def _function(logical_id: str) -> dict:
    return SPEC["Resources"][logical_id]["Properties"]


def _timeout(logical_id: str) -> float:
    return float(_function(logical_id).get("Timeout", SPEC["Globals"]["Function"]["Timeout"]))


def model_1e8(results: dict) -> dict:
    """A first import of 10^8 members and a 1%-churn re-import, on a pre-warmed table and a new one."""
    engines = results["import_compute"]["engines"]
    planning = results["planning"]
    end_to_end = results["import_end_to_end"]
    heat = end_to_end["key_heat"]
    small, large = (int(n) for n in sorted(planning, key=int))
    compute_s = _extrapolated(
        engines[str(small)]["ours"]["seconds"], engines[str(large)]["ours"]["seconds"], small, large, MEMBERS
    )
    planning_s = _extrapolated(
        planning[str(small)]["modeled_aws_seconds"], planning[str(large)]["modeled_aws_seconds"], small, large, MEMBERS
    )
    planning_calls = _extrapolated(
        planning[str(small)]["sequential_calls"], planning[str(large)]["sequential_calls"], small, large, MEMBERS
    )
    imports_s = compute_s + planning_s

    tables = heat["tables"]
    per_change = {label: entry["write_units"] / heat["changes"] for label, entry in tables.items()}
    wu_per_change = sum(per_change.values())
    busiest_table = max(per_change.items(), key=lambda item: item[1])  # the table or index that binds first
    chunk = end_to_end["apply"]["first_import_chunk_chains"][0]
    chunk_changes = 5_000
    worker_changes_s = chunk_changes / chunk["modeled_aws_seconds"]
    partition_changes_s = heat["changes_per_second_ceiling"]

    def first_import_hours(changes: float, start: float | None) -> tuple[float, float]:
        """Hours for `changes`, and the rate the apply runs at once warm (changes a second)."""
        rate = min(
            APPLY_WORKERS * worker_changes_s,
            aws_model.PREWARMED_WRITE_UNITS / busiest_table[1],
            partition_changes_s,
        )
        table_units = changes * busiest_table[1]
        ceiling_units = rate * busiest_table[1]
        apply_s = aws_model.seconds_to_write(table_units, ceiling_units, start)
        return (imports_s + apply_s) / 3600, rate

    prewarmed_h, rate = first_import_hours(MEMBERS, None)
    new_table_h, _ = first_import_hours(MEMBERS, aws_model.NEW_TABLE_WRITE_UNITS)
    churn_h, _ = first_import_hours(MEMBERS * CHURN, None)
    chunks = math.ceil(MEMBERS / chunk_changes)
    apply_seconds_each = chunk_changes / (rate / APPLY_WORKERS)  # a worker's share of the table's rate
    lambda_gb_s = imports_s * 3008 / 1024 + chunks * apply_seconds_each * 1024 / 1024
    cost = {
        "dynamodb": MEMBERS * wu_per_change * aws_model.PRICE_PER_MILLION_WRITE_UNITS / 1e6,
        "lambda": lambda_gb_s * aws_model.PRICE_PER_GB_SECOND_ARM
        + (chunks + 1) * aws_model.PRICE_PER_MILLION_LAMBDA_REQUESTS / 1e6,
        "sqs": (chunks / 10 + 2 * chunks) * aws_model.PRICE_PER_MILLION_SQS_REQUESTS / 1e6,
        "s3": (chunks + 200) * aws_model.PRICE_PER_THOUSAND_S3_GETS / 1e3
        + 300 * aws_model.PRICE_PER_THOUSAND_S3_PUTS / 1e3,
    }
    # The activity record keeps the numbers of the chunks applied (a number set, about 5 bytes each), and
    # every chunk rewrites it: its partition (the tenant's, in the imports table) at the end of the apply.
    record_units = math.ceil((RECORD_BYTES + CHUNK_NUMBER_BYTES * chunks) / 1024)
    record_peak = {
        "item_bytes_at_end": RECORD_BYTES + CHUNK_NUMBER_BYTES * chunks,
        "write_units_per_second": rate / chunk_changes * record_units,
        "read_units_per_second": rate / chunk_changes * 3 * math.ceil(record_units / 4),  # 3 reads a chunk
    }
    shares = {
        "ImportsFunction": imports_s / _timeout("ImportsFunction"),
        "ApplyFunction": apply_seconds_each / _timeout("ApplyFunction"),
        "ExpirySweepFunction": 0.5,  # a sweep stops at half its time by construction (audiences/expiry.py)
    }
    return {
        "members": MEMBERS,
        "compute_s": compute_s,
        "planning_s": planning_s,
        "planning_sequential_calls": planning_calls,
        "write_units_per_change": wu_per_change,
        "write_units_per_change_by_table": per_change,
        "binding_table": busiest_table[0],
        "apply_changes_per_second": rate,
        "apply_limits_changes_per_second": {
            "workers": APPLY_WORKERS * worker_changes_s,
            "table_prewarmed": aws_model.PREWARMED_WRITE_UNITS / busiest_table[1],
            "hottest_partition": partition_changes_s,
        },
        "activity_record_partition": record_peak,
        "first_import_prewarmed_h": prewarmed_h,
        "first_import_new_table_h": new_table_h,
        "churn_import_prewarmed_h": churn_h,
        "cost_usd": sum(cost.values()),
        "cost_usd_by_service": cost,
        "churn_cost_usd": cost["dynamodb"] * CHURN,
        "invocation_share_of_timeout": shares,
        "max_invocation_share_of_timeout": max(shares.values()),
        "targets": "planning_s <= 60, first_import_prewarmed_h <= 2, max_invocation_share_of_timeout <= 0.5",
    }


def model_ingest_1e4(results: dict, events_per_second: int = 10_000) -> dict:
    """Sustained ingest of 10^4 events a second: every quota it passes, at 1, 10 and 500 events a
    request (each request's events in as many audiences as it can: the most size shards moved); the
    one that binds first, and whether the template and the quotas docs/operations.md asks for reach
    it at the SDKs' 10."""
    sizes = results["ingest_request_sizes"]
    heat = results["ingest_heat"]
    parameters = SPEC["Parameters"]
    stage_rate = float(parameters["ApiThrottleRate"]["Default"])
    ingest_timeout_share = {}
    by_size = {}
    for size, entry in ((1, sizes["1"]), (10, sizes["10"]), (500, sizes["500"])):
        requests_s = events_per_second / size
        one = heat["one_audience_1_event_requests" if size == 1 else "one_audience"]
        upload_s = one["modeled_aws_seconds_per_upload"] * (1 if size == 1 else size / one["events_per_request"])
        upload_s = max(upload_s, 0.003) + 0.003  # and a few milliseconds of our own compute
        hottest_per_event = one["hottest_units"] / one["changes"]
        record_bytes = entry["per_upload"]["archive_bytes"] / size
        per_table = {label: units / size for label, units in entry["per_upload"]["write_units_by_table"].items()}
        quotas = [
            aws_model.Quota("API Gateway stage throttle", stage_rate, requests_s, "template parameter ApiThrottleRate"),
            aws_model.Quota(
                "API Gateway account throttle", aws_model.API_ACCOUNT_REQUESTS, requests_s, "quota request"
            ),
            aws_model.Quota(
                "Lambda concurrency",
                aws_model.LAMBDA_CONCURRENCY - APPLY_WORKERS,
                requests_s * upload_s,
                "quota request",
            ),
            aws_model.Quota("Firehose requests", aws_model.FIREHOSE_REQUESTS, requests_s, "Firehose limits form"),
            aws_model.Quota("Firehose records", aws_model.FIREHOSE_RECORDS, events_per_second, "Firehose limits form"),
            aws_model.Quota(
                "Firehose bytes", aws_model.FIREHOSE_BYTES, events_per_second * record_bytes, "Firehose limits form"
            ),
            *(
                aws_model.Quota(
                    f"DynamoDB {label} write units",
                    aws_model.PREWARMED_WRITE_UNITS,  # the quota docs/operations.md asks for
                    events_per_second * units,
                    "quota request to 80,000 and warm throughput (docs/operations.md)",
                )
                for label, units in per_table.items()
                if units
            ),
            aws_model.Quota(
                "DynamoDB partition (all events to one audience)",
                aws_model.PARTITION_WRITE_UNITS,
                events_per_second * hottest_per_event,
                "none: spread over more audiences, or batch more events a request",
            ),
        ]
        binding = min(quotas, key=lambda quota: quota.headroom)
        by_size[str(size)] = {
            "requests_per_second": requests_s,
            "binding_quota": binding.name,
            "binding_headroom": binding.headroom,
            "ok": all(quota.headroom >= 1 for quota in quotas),
            "quotas": {q.name: {"limit": q.limit, "needed": q.needed, "raise_by": q.raise_by} for q in quotas},
        }
        ingest_timeout_share[str(size)] = upload_s / _timeout("IngestFunction")
    reference = by_size[str(REFERENCE_EVENTS_PER_REQUEST)]
    return {
        "events_per_second": events_per_second,
        "reference_events_per_request": REFERENCE_EVENTS_PER_REQUEST,
        "binding_quota": reference["binding_quota"],
        "ok": reference["ok"],
        "by_events_per_request": by_size,
        "ingest_invocation_share_of_timeout": ingest_timeout_share,
        "firehose_active_partitions": {
            "limit": aws_model.FIREHOSE_ACTIVE_PARTITIONS,
            "per_tenant": 1,
            "note": "records partition by tenant and day: one active partition per tenant sending in a 60 s buffer",
        },
    }
