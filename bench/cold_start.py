"""Each function's handler module imported in a fresh interpreter, against `import boto3`."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from bench.harness import FUNCTIONS
from local import lambdas

LAMBDA_LIKE = {
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_REGION": "us-east-1",
    "LAMBDA_TASK_ROOT": "/var/task",
    "_HANDLER": "app.lambda_handler",
}


def bench_cold_start() -> dict:
    """Each function's import in a fresh interpreter, in a Lambda-like environment (LAMBDA_LIKE:
    tracing on, as in Lambda; no X-Ray daemon needed to import)."""
    env = os.environ | LAMBDA_LIKE | {"PYTHONDONTWRITEBYTECODE": "1"}

    def median_seconds(code: str, path: list[str]) -> float:
        runs = []
        for _ in range(7):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=env | {"PYTHONPATH": os.pathsep.join(path)}, check=True)
            runs.append(time.perf_counter() - started)
        return statistics.median(runs)

    baseline = median_seconds("import boto3", [])
    results = {"baseline_seconds": baseline, "environment": LAMBDA_LIKE, "target": "ratio <= 2 for each function"}
    for function in FUNCTIONS:
        module = function.handler.rsplit(".", 1)[0].replace("/", ".")  # console/app: a path under CodeUri
        seconds = median_seconds(f"import {module}", [str(function.code_dir), str(lambdas.LAYER_DIR)])
        results[function.logical_id] = {"seconds": seconds, "ratio": seconds / baseline}
    return results
