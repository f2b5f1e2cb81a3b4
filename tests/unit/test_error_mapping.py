"""Every domain error answers a mapped status: none can fall through to a crash (a 502)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from http import HTTPStatus

import pytest

import audiences
from audiences import errors
from audiences.adobe import http as adobe_http
from audiences.console import http as console_http
from audiences.odp import http
from audiences.segment import http as segment_http
from audiences.segment import tracking_http

DIALECTS = {
    "odp": http,
    "segment": segment_http,
    "segment-tracking": tracking_http,
    "adobe": adobe_http,
    "console": console_http,
}


def every_error_class() -> list[type[errors.AudiencesError]]:
    for module in pkgutil.walk_packages(audiences.__path__, "audiences."):
        if module.name != "audiences.admin":
            importlib.import_module(module.name)
    found, todo = [], [errors.AudiencesError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


CORE_ERRORS = [cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, errors.AudiencesError)]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("cls", CORE_ERRORS, ids=lambda cls: cls.__name__)
def test_every_core_error_class_has_its_own_status_in_every_dialect(cls, dialect):
    assert cls in DIALECTS[dialect]._STATUS, f"{cls.__name__} needs a row in {DIALECTS[dialect].__name__}"


def _status(dialect: str, error: errors.AudiencesError) -> int:
    mapped = DIALECTS[dialect].status_of(error)
    return mapped if isinstance(mapped, int) else mapped[0]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("cls", every_error_class(), ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_every_error_class_anywhere_maps_to_a_client_error_in_every_dialect(cls, dialect):
    error = cls.__new__(cls)
    assert 400 <= _status(dialect, error) < 500


def test_a_new_error_class_without_a_row_still_answers_and_takes_its_ancestors_status():
    class Lost(errors.Conflict):
        pass

    assert http.status_of(Lost("x")) is HTTPStatus.CONFLICT
