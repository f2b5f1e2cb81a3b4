"""The layer contract `make lint` checks (import-linter, contracts in pyproject.toml) bites."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from local import template
from local.template import ROOT


def lint_imports(layer: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(layer)}  # ahead of the venv's path to the real layer
    command = [
        str(Path(sys.executable).parent / "lint-imports"),
        "--no-cache",
        "--config",
        str(ROOT / "pyproject.toml"),
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def layer_copy(tmp_path) -> Path:
    shutil.copytree(ROOT / "layers" / "common" / "audiences", tmp_path / "audiences")
    return tmp_path


def test_the_layer_keeps_the_contract(layer_copy):
    run = lint_imports(layer_copy)
    assert run.returncode == 0, run.stdout


@pytest.mark.parametrize(
    ("module", "import_line", "broken"),
    [
        ("catalog.py", "from audiences.odp import segments", "audiences.catalog -> audiences.odp.segments"),
        ("memberships.py", "import boto3", "audiences.memberships -> boto3"),
        ("catalog.py", "from audiences.stores import catalog", "audiences.catalog -> audiences.stores.catalog"),
        ("fakes/catalog.py", "from audiences import wiring", "audiences.fakes.catalog -> audiences.wiring"),
        (
            "segment/audiences.py",
            "from audiences.adobe import runs",
            "audiences.segment.audiences -> audiences.adobe.runs",
        ),
        ("domain.py", "from audiences import catalog", "audiences.domain -> audiences.catalog"),
    ],
)
def test_a_forbidden_import_breaks_it(layer_copy, module, import_line, broken):
    path = layer_copy / "audiences" / module
    path.write_text(path.read_text() + f"\n{import_line}  # noqa\n")
    run = lint_imports(layer_copy)
    assert run.returncode != 0
    assert broken in run.stdout


def _without_the_engine() -> list[tuple[str, Path, str]]:
    document = template.load()
    functions = [
        f for f in template.functions(document) if "EngineLayer" not in str(document["Resources"][f.logical_id])
    ]
    return [(f.logical_id, f.code_dir, f.handler.rsplit(".", 1)[0].replace("/", ".")) for f in functions]


def test_every_function_but_the_importer_goes_without_the_engine_layer():
    assert {logical_id for logical_id, _, _ in _without_the_engine()} >= {"ImportsGiveUpFunction", "ApplyFunction"}
    assert "ImportsFunction" not in {logical_id for logical_id, _, _ in _without_the_engine()}


@pytest.mark.parametrize(("function", "code_dir", "module"), _without_the_engine())
def test_a_function_without_the_engine_layer_never_loads_polars(function, code_dir, module):
    check = f"import sys, {module}; sys.exit('polars' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", check], cwd=code_dir, timeout=60)
    assert loaded.returncode == 0, f"{function} imports polars, which only ImportsFunction's layer has"


def test_the_console_reads_every_functions_routes_without_loading_polars():
    """Its OpenAPI document imports the REST functions' apps, none of which may need the engine."""
    check = "import sys, console.app as console; console.openapi_json(); sys.exit('polars' in sys.modules)"
    env = os.environ | {"PYTHONPATH": str(ROOT / "layers" / "common")}
    loaded = subprocess.run([sys.executable, "-c", check], cwd=ROOT / "functions", env=env, timeout=60)
    assert loaded.returncode == 0
