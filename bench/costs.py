"""A per-million-events cost model of ingest on AWS, from request and item counts measured by the bench.

Prices are AWS's published on-demand prices for us-east-1 (checked 2026-12); they change, so
they are named here once and the model says which it used.
"""

from __future__ import annotations

import math

PRICES = {
    "api_gateway_rest_per_million_requests": 3.50,
    "lambda_requests_per_million": 0.20,
    "lambda_arm64_per_gb_second": 0.0000133334,
    "dynamodb_per_million_write_units": 0.625,
    "s3_put_per_thousand": 0.005,
    "firehose_per_gb_ingested": 0.029,  # each record billed as a multiple of 5 KB
    "firehose_dynamic_partitioning_per_gb": 0.020,
}
LAMBDA_GB = 0.5  # IngestFunction's MemorySize
# Modeled duration of one upload on AWS: handler compute plus in-region round trips; a round of
# transactions goes out concurrently, so it waits about one round trip.
COMPUTE_MS = 3.0
ROUND_TRIP_MS = {"firehose": 15.0, "dynamodb": 10.0}


def per_million_events(events_per_request: int, measured: dict, archive_in_transaction: bool = False) -> dict:
    """Dollars per million events, by service, for uploads of `events_per_request` events.

    `measured` (per upload): `transaction_rounds`, `write_units`, `archive_records`,
    `archive_bytes` (Firehose) — as counted on moto by the bench. `archive_in_transaction` prices the one
    design that makes a small upload one AWS request: each event's archive record one more item of the
    membership transaction (a table of records with a TTL, its export not counted), instead of Firehose:
    a transactional write of up to 1 KB, two write units, per event, and no Firehose round trip.
    """
    uploads = 1_000_000 / events_per_request
    record_kb = 5 * math.ceil(measured["archive_bytes"] / measured["archive_records"] / 5120)  # billed size
    archive_gb = 0.0 if archive_in_transaction else measured["archive_records"] * record_kb / (1024 * 1024)
    write_units = measured["write_units"] + (2 * measured["archive_records"] if archive_in_transaction else 0)
    archive_ms = 0.0 if archive_in_transaction else ROUND_TRIP_MS["firehose"]
    duration_ms = COMPUTE_MS + archive_ms + measured["transaction_rounds"] * ROUND_TRIP_MS["dynamodb"]
    costs = {
        "api_gateway": uploads * PRICES["api_gateway_rest_per_million_requests"] / 1e6,
        "lambda": uploads
        * (
            PRICES["lambda_requests_per_million"] / 1e6
            + duration_ms / 1000 * LAMBDA_GB * PRICES["lambda_arm64_per_gb_second"]
        ),
        "dynamodb": uploads * write_units * PRICES["dynamodb_per_million_write_units"] / 1e6,
        "firehose": uploads
        * archive_gb
        * (PRICES["firehose_per_gb_ingested"] + PRICES["firehose_dynamic_partitioning_per_gb"]),
        # Firehose delivers a few objects a minute per partition: their PUTs are negligible per
        # million events. For comparison, what an S3 object per upload (the archive before) cost:
        "s3_object_per_upload_instead": uploads * PRICES["s3_put_per_thousand"] / 1000,
    }
    costs["total"] = sum(value for name, value in costs.items() if name != "s3_object_per_upload_instead")
    costs["lambda_ms_modeled"] = duration_ms
    return {name: round(value, 4) for name, value in costs.items()}
