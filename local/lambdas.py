"""Running function handlers in-process, as the Lambda runtime would call them."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from local import iam
from local.provision import ACCOUNT_ID, REGION
from local.template import ROOT, Function

LAYER_DIR = ROOT / "layers" / "common"

# One container per function would serialize its invocations; Powertools keeps the current
# event and log keys on module-level objects, so locally every invocation takes this lock.
invocation_lock = threading.Lock()


class LambdaContext:
    def __init__(self, function: Function) -> None:
        self.function_name = function.logical_id
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function.logical_id}"
        self.memory_limit_in_mb = function.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.logical_id}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + function.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class LocalFunction:
    function: Function
    handler: Callable[[dict, LambdaContext], dict]

    def invoke(self, event: dict) -> dict:
        with invocation_lock, iam.ENFORCER.acting_as(self.function.logical_id):
            return self.handler(event, LambdaContext(self.function))


def _on_path(directory) -> None:
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))


def use_layer() -> None:
    """Make the shared layer importable, as Lambda does by putting it in /opt/python."""
    _on_path(LAYER_DIR)


def load(function: Function) -> LocalFunction:
    """Import the function's handler module under a unique name (every function has an app.py)."""
    use_layer()
    _on_path(function.code_dir)
    module_file, attribute = function.handler.rsplit(".", 1)
    name = f"lambda_{function.logical_id}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, function.code_dir / f"{module_file}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return LocalFunction(function, getattr(module, attribute))
