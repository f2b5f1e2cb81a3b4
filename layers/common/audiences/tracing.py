"""The functions' Tracer: X-Ray when tracing is on, and no X-Ray work at all when it is off; timings and
names only, never what a traced function returns or raises.

Powertools' Tracer imports the X-Ray SDK even when tracing is disabled (and outside Lambda its
recorder builds a sampler with a botocore client of its own). A disabled tracer here gets a
provider that records nothing instead, so tests, the local stack and the operator CLI pay
nothing for tracing, and Lambda, where tracing is on, traces as before.

Traces are a store no erasure reaches, so nothing in them may name a person. Powertools captures
a traced function's response and exception as metadata by default, and X-Ray keeps the message of
an exception leaving a subsegment: job objects, GraphQL answers and refusals quoting what a client
sent would all sit in X-Ray. `Tracer` here turns both captures off whatever a decorator asks (and
the template sets POWERTOOLS_TRACER_CAPTURE_RESPONSE/ERROR=false beside it), and `ErrorTypesOnly`
records an exception by its type alone.
"""

from __future__ import annotations

import traceback
from contextlib import asynccontextmanager, contextmanager

from aws_lambda_powertools import Tracer as PowertoolsTracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

from audiences.settings import get_settings


class Tracer(PowertoolsTracer):
    """Powertools' Tracer that never captures a traced function's response or exception."""

    def capture_lambda_handler(self, lambda_handler=None, capture_response=None, capture_error=None):
        return super().capture_lambda_handler(lambda_handler, capture_response=False, capture_error=False)

    def capture_method(self, method=None, capture_response=None, capture_error=None):
        return super().capture_method(method, capture_response=False, capture_error=False)


class ErrorTypesOnly(BaseProvider):
    """X-Ray's recorder, except that an exception leaving a subsegment is recorded by its type and stack
    alone: X-Ray would keep `str(exception)`, and a refusal's message may quote what a client sent."""

    def __init__(self, recorder) -> None:
        self._recorder = recorder

    @contextmanager
    def in_subsegment(self, name=None, **kwargs):
        subsegment = self._recorder.begin_subsegment(name)
        try:
            yield subsegment
        except BaseException as error:
            if subsegment is not None:
                stack = traceback.extract_tb(error.__traceback__, limit=self._recorder.max_trace_back)
                named_alike = type(type(error).__name__, (Exception,), {})  # the error's name, without its message
                subsegment.add_exception(named_alike(), stack)
            raise
        finally:
            if subsegment is not None:
                self._recorder.end_subsegment()

    @asynccontextmanager
    async def in_subsegment_async(self, name=None, **kwargs):
        with self.in_subsegment(name) as subsegment:
            yield subsegment

    def put_annotation(self, key, value) -> None:
        self._recorder.put_annotation(key, value)

    def put_metadata(self, key, value, namespace="default") -> None:
        self._recorder.put_metadata(key, value, namespace)

    def patch(self, modules) -> None:
        from aws_xray_sdk.core import patch

        patch(modules)

    def patch_all(self) -> None:
        from aws_xray_sdk.core import patch_all

        patch_all()


class _Unrecorded(BaseSegment):
    def close(self, end_time=None) -> None: ...

    def add_subsegment(self, subsegment) -> None: ...

    def remove_subsegment(self, subsegment) -> None: ...

    def put_annotation(self, key, value) -> None: ...

    def put_metadata(self, key, value, namespace="default") -> None: ...

    def add_exception(self, exception, stack, remote=False) -> None: ...


class _Untraced(BaseProvider):
    @contextmanager
    def in_subsegment(self, name=None, **kwargs):
        yield _Unrecorded()

    @asynccontextmanager
    async def in_subsegment_async(self, name=None, **kwargs):
        yield _Unrecorded()

    def put_annotation(self, key, value) -> None: ...

    def put_metadata(self, key, value, namespace="default") -> None: ...

    def patch(self, modules) -> None: ...

    def patch_all(self) -> None: ...


def tracer() -> Tracer:
    if get_settings().tracing:
        from aws_xray_sdk.core import xray_recorder

        xray_recorder.configure(streaming_threshold=0)  # as Powertools sets its own X-Ray provider (its issue 283)
        return Tracer(provider=ErrorTypesOnly(xray_recorder))
    return Tracer(disabled=True, auto_patch=False, provider=_Untraced())
