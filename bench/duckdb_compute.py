"""The import compute path as one DuckDB statement, for `make bench`'s engine comparison (not used by the service).

    python -m bench.duckdb_compute <previous snapshot .parquet> <audience file .csv.gz> [judged at: epoch s]

A skeptic's strongest DuckDB: one `COPY … ANTI JOIN` statement reads the file once, filters it with
the predicate of the common case in `audiences.odp.audience_file.AudienceFile` (type, action,
audience id, identifier length and control characters, ts a whole number of seconds, not
milliseconds, not too far ahead) as the coreutils baseline's awk filters it, makes the members
distinct, anti-joins them with the Parquet snapshot both ways and writes the joined, the left and
the next snapshot (in no order, as ours) to Parquet files, with nothing fetched into Python.
Given a time to judge rows at, the statement also writes the rows the predicate doubted, and they
are judged again by our own `row_problem`, so errors carry our messages (DuckDB's CSV reader
numbers no lines, so not our line numbers): the bench compares them with ours on a file of bad
rows. Memory is capped at our own target and spills to a scratch directory. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from audiences.domain import MAX_IDENTIFIER_BYTES, MILLISECONDS_FROM
from bench.engine_arm import judge, kind_files

MEMORY_LIMIT = "512MB"


def main(snapshot_file: str, new_file: str, judged_at: str = "") -> None:
    started = time.perf_counter()
    now = float(judged_at) if judged_at else time.time()
    judging = judge(now)
    audience = judging.context.audience
    good = (
        "type = 'passthrough' AND action = 'qualify' AND audience_id IN ($key, $ext) AND fs_user_id <> '' "
        "AND strlen(fs_user_id) <= $max_bytes AND NOT regexp_matches(fs_user_id, '[\\x00-\\x1f\\x7f]') "
        "AND regexp_full_match(ts, '[0-9]+') AND TRY_CAST(ts AS BIGINT) < $millis "
        "AND TRY_CAST(ts AS BIGINT) <= $latest"
    )
    values = {
        "new": new_file,
        "snapshot": snapshot_file,
        "key": audience.key,
        "ext": audience.external_id,
        "max_bytes": MAX_IDENTIFIER_BYTES,
        "millis": MILLISECONDS_FROM,
        "latest": now + judging.context.max_future_skew,
    }
    with tempfile.TemporaryDirectory() as scratch:
        db = duckdb.connect()  # in memory, spilling to temp_directory past the limit
        db.execute(f"SET memory_limit = '{MEMORY_LIMIT}'; SET temp_directory = '{scratch}'")
        out = Path(scratch) / "out"
        doubted_rows = "UNION ALL SELECT 'doubted', fs_user_id, type, action, audience_id, ts FROM rows WHERE NOT plain"
        db.execute(
            f"""COPY (
                WITH rows AS (
                    SELECT *, coalesce({good}, false) AS plain FROM read_csv($new, header = true, all_varchar = true,
                    quote = '', escape = '', columns = {{'type': 'VARCHAR', 'action': 'VARCHAR',
                    'audience_id': 'VARCHAR', 'ts': 'VARCHAR', 'fs_user_id': 'VARCHAR'}})
                ),
                current AS (SELECT DISTINCT fs_user_id AS member FROM rows WHERE plain),
                previous AS (SELECT member FROM read_parquet($snapshot))
                SELECT 'joined' AS kind, member, NULL AS type, NULL AS action, NULL AS audience_id, NULL AS ts
                    FROM current ANTI JOIN previous USING (member)
                UNION ALL SELECT 'left', member, NULL, NULL, NULL, NULL FROM previous ANTI JOIN current USING (member)
                UNION ALL SELECT 'snapshot', member, NULL, NULL, NULL, NULL FROM current
                {doubted_rows if judged_at else ""}
            ) TO '{out}' (FORMAT parquet, PARTITION_BY (kind), COMPRESSION zstd)""",
            values,
        )

        def read(kind: str, columns: str) -> list[tuple]:
            files = kind_files(out, kind)
            return db.execute(f"SELECT {columns} FROM read_parquet(?)", [files]).fetchall() if files else []

        errors, accepted = judging.doubted(read("doubted", "type, action, audience_id, ts, member"))
        [(joined,)], [(left,)] = read("joined", "count(*)") or [(0,)], read("left", "count(*)") or [(0,)]
        db.close()
    print(json.dumps(judging.answer(joined, left, errors, accepted, time.perf_counter() - started)))


if __name__ == "__main__":
    main(*sys.argv[1:])
