"""Tracing costs nothing when it is off and keeps no answer or error when it is on; a SnapStart restore reseeds
what the snapshot would share."""

from __future__ import annotations

import contextlib
import os
import random
import re
import subprocess
import sys

import pytest
import snapshot_restore_py
from aws_lambda_powertools import Tracer as PowertoolsTracer
from aws_xray_sdk.core.models.segment import Segment
from aws_xray_sdk.core.models.subsegment import Subsegment

from audiences import snapstart, tracing
from local import lambdas
from local.template import ROOT
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


SECRET = "ann-9c2e@x.com"  # what a job object, a GraphQL answer or a refusal may hold


class _Recorder:
    """X-Ray's recorder as `tracing.ErrorTypesOnly` drives it, over the SDK's own segment model: the serialized
    segment is what X-Ray would be sent and keep."""

    max_trace_back = 10

    def __init__(self) -> None:
        self.segment = Segment("function")
        self.open = [self.segment]

    def begin_subsegment(self, name, namespace="local"):
        subsegment = Subsegment(name, namespace, self.segment)
        self.open[-1].add_subsegment(subsegment)
        self.open.append(subsegment)
        return subsegment

    def end_subsegment(self, end_time=None) -> None:
        self.open.pop().close(end_time)

    def put_annotation(self, key, value) -> None:
        self.open[-1].put_annotation(key, value)

    def put_metadata(self, key, value, namespace="default") -> None:
        self.open[-1].put_metadata(key, value, namespace)

    def sent(self) -> str:
        self.segment.close()
        return self.segment.serialize()


@pytest.fixture
def recorder(monkeypatch):
    """A recorder of the test's; Powertools' tracers share one config, so the test's starts afresh and goes."""
    monkeypatch.setattr(PowertoolsTracer, "_config", dict(PowertoolsTracer._default_config))
    return _Recorder()


def test_a_traced_function_leaves_its_answer_and_its_error_out_of_the_trace(recorder, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "true")  # neither the environment
    tracer = tracing.Tracer(disabled=False, auto_patch=False, provider=tracing.ErrorTypesOnly(recorder))

    @tracer.capture_method
    def answer():
        return {"userKey": SECRET}

    @tracer.capture_method(capture_response=True, capture_error=True)  # nor a decorator can turn capture on
    def refuse():
        raise ValueError(f"userId must be a string, got {SECRET!r}")

    @tracer.capture_lambda_handler
    def handler(event, context):
        answer()
        with contextlib.suppress(ValueError):
            refuse()
        return {"statusCode": 200, "body": SECRET}

    assert handler({}, None)["body"] == SECRET
    trace = recorder.sent()
    assert all(name in trace for name in ("## handler", "locals.answer", "locals.refuse", '"ValueError"'))
    assert SECRET not in trace


def test_every_function_traces_through_our_tracer_with_capture_off():
    for function in FUNCTIONS:
        assert function.environment["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false", function.logical_id
        assert function.environment["POWERTOOLS_TRACER_CAPTURE_ERROR"] == "false", function.logical_id
    sources = [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers").rglob("*.py")]
    powertools_tracers = [
        str(path) for path in sources if re.search(r"\bTracer\b", path.read_text()) and path.name != "tracing.py"
    ]
    assert powertools_tracers == []  # every function's tracer is tracing.tracer()


def test_where_tracing_is_on_the_tracer_records_error_types_only():
    function = next(f for f in FUNCTIONS if f.logical_id == "GraphqlFunction")
    env = {k: v for k, v in os.environ.items() if k not in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED")}
    env |= {"PYTHONPATH": os.pathsep.join([str(function.code_dir), str(lambdas.LAYER_DIR)])} | LAMBDA
    code = "import app; print(type(app.tracer).__module__, type(app.tracer.provider).__name__)"
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert shown == "audiences.tracing ErrorTypesOnly\n"
