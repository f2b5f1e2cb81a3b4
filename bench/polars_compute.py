"""The import compute path as one lazy Polars query, for `make bench`'s engine comparison (not used by the service).

    python -m bench.polars_compute <previous snapshot .parquet> <audience file .csv.gz> [judged at: epoch s]

What a Polars user would write first: scan the file, filter it with the predicate of the common
case in `audiences.odp.audience_file.AudienceFile` (the expression ours judges a plain block
with), make the members distinct, anti-join them with the scanned snapshot both ways, and sink the
joined, the left and the next snapshot into Parquet files partitioned by kind, in one query that
Polars plans, streams and parallelises as it likes. Given a time to judge rows at, the query also
sinks the doubted rows, judged again by our own `row_problem`, as bench.duckdb_compute does.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from audiences.domain import MAX_IDENTIFIER_BYTES, MILLISECONDS_FROM
from audiences.member_files import MEMBER
from bench.engine_arm import judge, kind_files

COLUMNS = ("type", "action", "audience_id", "ts", "fs_user_id")


def main(snapshot_file: str, new_file: str, judged_at: str = "") -> None:
    started = time.perf_counter()
    judging = judge(float(judged_at) if judged_at else None)
    context = judging.context
    value, seconds = pl.col("fs_user_id"), pl.col("ts").str.to_integer(strict=False)
    plain = (
        (pl.col("type") == "passthrough")
        & (pl.col("action") == "qualify")
        & pl.col("audience_id").is_in([context.audience.key, context.audience.external_id])
        & (value.str.len_bytes() > 0)
        & (value.str.len_bytes() <= MAX_IDENTIFIER_BYTES)
        & ~value.str.contains(r"[\x00-\x1f\x7f]")
        & pl.col("ts").str.contains(r"^[0-9]+$")
        & (seconds < MILLISECONDS_FROM)
        & (seconds <= context.now + context.max_future_skew)
    ).fill_null(False)
    rows = pl.scan_csv(new_file, infer_schema=False, quote_char=None, schema=dict.fromkeys(COLUMNS, pl.String))
    current = rows.filter(plain).select(value.alias(MEMBER)).unique()
    previous = pl.scan_parquet(snapshot_file).select(MEMBER)
    kinds = {
        "joined": current.join(previous, on=MEMBER, how="anti"),
        "left": previous.join(current, on=MEMBER, how="anti"),
        "snapshot": current,
    }
    if judged_at:
        kinds["doubted"] = rows.filter(~plain).select(*COLUMNS[:4], value.alias(MEMBER))
    every = pl.concat(
        [frame.with_columns(pl.lit(kind).alias("kind")) for kind, frame in kinds.items()], how="diagonal_relaxed"
    )
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        every.sink_parquet(pl.PartitionBy(out, key="kind"), compression="zstd", statistics=False)
        doubted = kind_files(out, "doubted")
        rows_doubted = pl.read_parquet(doubted).select(*COLUMNS[:4], MEMBER).rows() if doubted else []
        errors, accepted = judging.doubted(rows_doubted)
        joined, left = (
            pl.scan_parquet(files).select(pl.len()).collect().item() if (files := kind_files(out, kind)) else 0
            for kind in ("joined", "left")
        )
    print(json.dumps(judging.answer(joined, left, errors, accepted, time.perf_counter() - started)))


if __name__ == "__main__":
    main(*sys.argv[1:])
