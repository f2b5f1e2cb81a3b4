"""What the engine arms of the import compute comparison share: our own judging of the rows an
engine's predicate doubted, and their answer line (`bench.duckdb_compute`, `bench.polars_compute`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from audiences.domain import Audience, Confidence, Tenant
from audiences.member_files import FileContext

FIRST_ERRORS = 20
MAX_FUTURE_SKEW = 300


@dataclass
class Judging:
    context: FileContext

    def doubted(self, rows) -> tuple[list[str], list[str]]:
        """(type, action, audience_id, ts, value) rows the engine doubted: our error messages, and the
        values we accept after all (the engine's predicate is narrower than our rules)."""
        from audiences.odp.audience_file import AudienceFile  # Polars: not paid by an arm that meets no doubt

        file, errors, accepted = AudienceFile(None, 0, self.context, identifier="fs_user_id"), [], []
        for kind, action, audience_id, ts, value in rows:
            if problem := file.row_problem(kind or "", action or "", audience_id or "", ts or "", value or ""):
                errors.append(problem)
            else:
                accepted.append(value)
        return errors, accepted

    def answer(self, joined: int, left: int, errors: list[str], accepted: list[str], seconds: float) -> dict:
        """The arm's JSON line. Values accepted after the engine doubted them are counted, not diffed:
        a bench file has none (engines.py checks), the file of bad rows has distinct ones."""
        return {
            "joined": joined,
            "left": left,
            "also_accepted": len(accepted),
            "errors": errors[:FIRST_ERRORS],
            "error_count": len(errors),
            "seconds": seconds,
        }


def judge(now: float | None = None) -> Judging:
    context = FileContext(
        Tenant.of("bench", fs_user_id=Confidence.HIGH),
        Audience("bench_audience", "bench"),
        time.time() if now is None else now,
        MAX_FUTURE_SKEW,
    )
    return Judging(context)


def kind_files(directory: Path, kind: str) -> list[str]:
    """The Parquet files of one kind of an engine's output partitioned by kind (none when it has no rows)."""
    return [str(path) for path in directory.glob(f"kind={kind}/*.parquet")]
