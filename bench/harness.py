"""What every scenario shares: the embedded AWS as the functions see it, the handlers, and the measures.

`setup()` makes this process a warm container of every function on moto, and must run before any
AWS client exists (the call counter and the modeled latency hook into every botocore session as it
is created); `python -m bench` runs it first. Nothing here changes global state at import.
"""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import defaultdict, deque
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import moto  # noqa: F401  (patches botocore before any client exists)
from botocore.handlers import BUILTIN_HANDLERS

from local import lambdas, moto_fidelity, provision, template
from local.aws_calls import AWS_CALLS  # likewise: counts every client's calls
from local.gateway import Router, proxy_event
from local.key_heat import KEY_HEAT
from local.stack import configure_process

SPEC = template.load()
FUNCTIONS = template.functions(SPEC)
PLAN = provision.plan(SPEC)
T = 1_748_851_070
CUSTOMER_QUERY = (
    "query($userId: String, $audiences: [String]) {customer(fs_user_id: $userId) "
    "{audiences(subset: $audiences) {edges {node {name state}}}}}"
)
MEMBERSHIPS = PLAN.names["MembershipsTable"]
TABLE_NAMES = {physical: logical for logical, physical in PLAN.names.items()}  # what key heat reports by
IN_REGION_SECONDS = 0.005  # a DynamoDB request's in-region round trip, as the model assumes


class ModeledLatency:
    """A fixed round trip added to every AWS request while set, in both arms of a scenario: moto
    answers in its own milliseconds of Python, DynamoDB and Firehose over an in-region network."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self, **_) -> None:
        if self.seconds:
            time.sleep(self.seconds)


class MotoAnswers:
    """moto's answers recorded as it sends them, then handed back in their place, moto doing nothing: what
    remains of a scenario is this process's own CPU (ours, PynamoDB's, botocore's serializing, signing
    and parsing), without moto's milliseconds of Python per item. Answers are kept per kind of request
    (the JSON protocols' target, or S3's method and query names), in order: requests of one kind sent
    by several threads at once may take one another's answers, so a scenario replayed is one whose
    answers of a kind are alike (fresh writes all succeed)."""

    def __init__(self) -> None:
        self.mode = "pass"  # or "record", "replay"
        self.answers: dict[str, deque] = defaultdict(deque)
        self.requests: list[tuple[str, str, dict]] = []  # what was asked while recording: service, operation, params
        self.keep_requests = False
        self._lock = threading.Lock()

    def asked(self, params, model, **_) -> None:
        if self.mode == "record" and self.keep_requests:
            with self._lock:
                self.requests.append((model.service_model.service_name, model.name, copy.deepcopy(params)))

    @staticmethod
    def kind(request) -> str:
        target = request.headers.get("X-Amz-Target")
        if target:
            return target.decode() if isinstance(target, bytes) else target
        url = urlsplit(request.url)
        return f"{request.method} {url.hostname.split('.')[0]} {sorted(name for name, _ in parse_qsl(url.query, True))}"

    def install(self) -> None:
        from moto.core.models import botocore_stubber

        process = botocore_stubber.process_request

        def answered(request):
            with self._lock:
                mode = self.mode
            if mode == "replay":
                with self._lock:
                    queue = self.answers.get(self.kind(request))
                    if not queue:
                        raise AssertionError(f"no recorded answer left for {self.kind(request)}")
                    return queue.popleft()
            answer = process(request)
            if mode == "record" and answer is not None:
                status, headers, body = answer
                with self._lock:
                    self.answers[self.kind(request)].append((status, dict(headers), body))
            return answer

        botocore_stubber.process_request = answered
        BUILTIN_HANDLERS.append(("provide-client-params", self.asked))

    @contextmanager
    def recording(self, requests: bool = False):
        """Record the answers, and with `requests` what was asked (parameters copied: no file bodies)."""
        self.answers.clear()
        self.requests.clear()
        self.mode, self.keep_requests = "record", requests
        try:
            yield
        finally:
            self.mode = "pass"

    def kept(self) -> dict[str, deque]:
        """A copy of the answers, to replay them once more (`restore`)."""
        return {kind: deque(queue) for kind, queue in self.answers.items()}

    def restore(self, answers: dict[str, deque]) -> None:
        self.answers = defaultdict(deque, {kind: deque(queue) for kind, queue in answers.items()})

    @contextmanager
    def replaying(self):
        self.mode = "replay"
        try:
            yield
        finally:
            self.mode = "pass"
        left = {kind: len(queue) for kind, queue in self.answers.items() if queue}
        assert not left, f"the replay asked for fewer answers than were recorded: {left}"


LATENCY = ModeledLatency()
MOTO_ANSWERS = MotoAnswers()
_set_up = False


def setup() -> None:
    """This process as a warm container of every function, on moto, with AWS's conflicts and partitions."""
    global _set_up
    if _set_up:
        return
    BUILTIN_HANDLERS.append(("before-call", LATENCY))  # before any session copies the handlers
    MOTO_ANSWERS.install()
    configure_process(PLAN, FUNCTIONS, endpoint_url=None)
    # A warm container for the whole run: its key and catalog copies do not expire mid-scenario.
    os.environ |= {"AUTH_CACHE_SECONDS": "3600", "CATALOG_CACHE_SECONDS": "3600"}
    moto_fidelity.install()
    _set_up = True


@contextmanager
def fresh_aws():
    """A new, empty moto for each scenario: tables stay small (a moto Query sorts its table)."""
    from moto import mock_aws

    from audiences import cache
    from local.seed import seed_demo

    with mock_aws():
        provision.provision(PLAN)
        cache.clear_all()
        AWS_CALLS.reset()
        KEY_HEAT.reset()
        yield seed_demo()


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def handlers() -> dict[str, lambdas.LocalFunction]:
    return {function.logical_id: lambdas.load(function) for function in FUNCTIONS}


def call(router: Router, method: str, path: str, key: str, body: object, query: dict | None = None) -> dict:
    """One request through the local gateway's routing, as one invocation of its function."""
    target, params = router.match(method, path)
    headers = [("content-type", "application/json"), ("x-api-key", key), ("authorization", f"Bearer {key}")]
    raw_path = f"{path}?{urlencode(query)}" if query else path
    event = proxy_event(target, params, method, raw_path, headers, json.dumps(body).encode())
    with AWS_CALLS.invocation(target.function.function.logical_id):
        result = target.function.invoke(event)
    assert result["statusCode"] < 300, result["body"]
    return json.loads(result["body"])


def lww_update(dynamodb, pk: str, audience: str, state: str, ts: float) -> None:
    """The bare conditional write a passthrough event needs: no sizes, no archive, no validation."""
    with suppress(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.update_item(
            TableName=MEMBERSHIPS,
            Key={"pk": {"S": pk}, "sk": {"S": audience}},
            UpdateExpression="SET #s = :s, #t = :t",
            ConditionExpression="attribute_not_exists(#t) OR #t < :t",
            ExpressionAttributeNames={"#s": "state", "#t": "ts"},
            ExpressionAttributeValues={":s": {"S": state}, ":t": {"N": repr(ts)}},
        )


def passthrough(action: str, user: str, audience: str, ts: int) -> dict:
    return {
        "type": "passthrough",
        "action": action,
        "identifiers": {"fs_user_id": user},
        "data": {"audience_id": audience, "ts": ts},
    }


def fresh_transitions(audiences: int = 50) -> list[dict]:
    """10,000 events that each move a size: 9,000 joins of distinct (user, audience) pairs, then
    1,000 leaves of members who joined in an earlier upload."""
    rng = random.Random(7)
    users = 9_000 // audiences + 1_000 // audiences
    pairs = rng.sample(
        [(user, audience) for user in range(max(2000, users * 2)) for audience in range(audiences)], 9000
    )
    joins = [passthrough("qualify", f"user-{u}", f"aud{a}", T + rng.randrange(1000)) for u, a in pairs]
    leaves = [passthrough("disqualify", f"user-{u}", f"aud{a}", T + 2000) for u, a in pairs[:1000]]
    return joins + leaves


def measured(command: list[str]) -> tuple[str, float, float]:
    """stdout, wall seconds and peak RSS (MB) of a command, through bench.peak."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(lambdas.LAYER_DIR), str(template.ROOT)])}
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "bench.peak", *command], env=env, check=True, capture_output=True, text=True
    )
    return run.stdout, time.perf_counter() - started, json.loads(run.stderr.splitlines()[-1])["peak_rss_mb"]


def key_heat(changes: int) -> dict:
    """The write units each table and index took since the scenario's reset, the partition keys written,
    the hottest one's share of all units, and what that share makes of 1,000 write units a second."""
    from bench import aws_model

    overall = KEY_HEAT.overall()
    names = TABLE_NAMES
    per_change = overall.hottest_units / changes if changes else 0.0
    table, index, key = overall.hottest_key.split("/", 2) if overall.hottest_key else ("", "", "")
    return {
        "changes": changes,
        "write_units": overall.write_units,
        "write_units_per_change": overall.write_units / changes if changes else 0.0,
        "hottest_key": f"{names.get(table, table)}{'/' + index if index else ''}: {key}",
        "hottest_units": overall.hottest_units,
        "hottest_share": overall.hottest_share,
        "changes_per_second_ceiling": aws_model.PARTITION_WRITE_UNITS / per_change if per_change else None,
        "tables": {
            label: {"write_units": heat.write_units, "keys": heat.keys, "hottest_share": heat.hottest_share}
            for label, heat in KEY_HEAT.by_table(names).items()
        },
    }


RESULTS = Path(__file__).with_name("results.json")
