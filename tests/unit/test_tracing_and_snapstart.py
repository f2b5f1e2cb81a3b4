"""Tracing costs nothing when it is off; a SnapStart restore reseeds what the snapshot would share."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest
import snapshot_restore_py

from audiences import snapstart
from local import lambdas
from tests.conftest import FUNCTIONS

LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "f", "AWS_REGION": "us-east-1"}


def xray_loaded(function, extra: dict) -> bool:
    env = {k: v for k, v in os.environ.items() if k not in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED")}
    env |= {"PYTHONPATH": os.pathsep.join([str(function.code_dir), str(lambdas.LAYER_DIR)])} | extra
    code = "import sys, app; print('aws_xray_sdk.core' in sys.modules)"
    return (
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
        == "True\n"
    )


@pytest.mark.parametrize("function", [f for f in FUNCTIONS if f.logical_id in ("GraphqlFunction", "ImportsFunction")])
def test_the_xray_sdk_is_loaded_only_where_tracing_is_on(function):
    assert xray_loaded(function, LAMBDA)
    assert not xray_loaded(function, {})  # outside Lambda: tests, the local stack, the CLI
    assert not xray_loaded(function, LAMBDA | {"POWERTOOLS_TRACE_DISABLED": "true"})


def test_a_restored_environment_draws_its_own_jitter():
    assert snapstart.reseed in [hook for hook, *_ in snapshot_restore_py.get_after_restore()]
    random.seed(7)
    in_the_snapshot = random.random()
    random.seed(7)
    snapstart.reseed()
    assert random.random() != in_the_snapshot
