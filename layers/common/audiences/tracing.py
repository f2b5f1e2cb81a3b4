"""The functions' Tracer: X-Ray when tracing is on, and no X-Ray work at all when it is off.

Powertools' Tracer imports the X-Ray SDK even when tracing is disabled (and outside Lambda its
recorder builds a sampler with a botocore client of its own). A disabled tracer here gets a
provider that records nothing instead, so tests, the local stack and the operator CLI pay
nothing for tracing, and Lambda, where tracing is on, traces as before.
"""

from __future__ import annotations

from contextlib import asynccontextmanager, contextmanager

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

from audiences.settings import get_settings


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
        return Tracer()
    return Tracer(disabled=True, auto_patch=False, provider=_Untraced())
