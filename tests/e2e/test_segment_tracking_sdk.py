"""Segment's Python library (segment-analytics-python from PyPI), unmodified, pointed at the local stack.

It sends what Engage sends an event destination: identify calls with the audience's trait, and
`Audience Entered`/`Audience Exited` tracks, in its own batches, retrying on its own. A proxy
between them loses answers (after the stack applied the request), so the retries are real.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from segment.analytics import Client

from tests.e2e.conftest import new_key

QUERY = "query($userId: String) {customer(fs_user_id: $userId) {audiences {edges {node {name state}}}}}"


class LosingProxy:
    """Forwards every request to the stack; the answers to the first `lose` are replaced by a 503,
    as a load balancer that timed out would: the stack applied the batch, the client never heard."""

    def __init__(self, target: str, lose: int = 0) -> None:
        self.target, self.lose = target, lose
        self.bodies: list[bytes] = []
        self.statuses: list[int] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {name: value for name, value in self.headers.items() if name.lower() != "host"}
                answer = requests.post(proxy.target + self.path, data=body, headers=headers, timeout=10)
                lost = len(proxy.statuses) < proxy.lose
                proxy.bodies.append(body)
                proxy.statuses.append(answer.status_code)
                status, data = (
                    (503, b'{"code": "unavailable", "message": "lost"}')
                    if lost
                    else (answer.status_code, answer.content)
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def tenant(stack, admin):
    """A tenant of its own, its write key (public) and its private key, with audience `e2e_vip`."""
    name = f"trk{time.monotonic_ns() % 10**9}"
    assert admin("tenants", "create", name).returncode == 0
    public, private = new_key(admin, name, "public"), new_key(admin, name, "private")
    made = requests.post(
        f"{stack.api_url}/spaces/{name}/audiences",
        json={"name": "E2E VIP"},
        headers={"Authorization": f"Bearer {private}"},
        timeout=10,
    )
    assert made.status_code == 200, made.text
    audience = made.json()["data"]["audience"]
    assert audience["key"] == "e2e_vip"
    return name, public, private, audience["id"]


def engage(key: str = "e2e_vip") -> dict:
    """The context Engage gives an audience's calls (the library adds its own to it)."""
    return {"personas": {"computation_class": "audience", "computation_key": key, "space_id": "spa_e2e"}}


def size(stack, tenant) -> int:
    name, _, private, audience_id = tenant
    reply = requests.get(
        f"{stack.api_url}/spaces/{name}/audiences/{audience_id}",
        headers={"Authorization": f"Bearer {private}"},
        timeout=10,
    )
    return reply.json()["data"]["audience"]["size"]["count"]


def audiences_of(stack, public: str, user: str) -> list[tuple[str, str]]:
    reply = requests.post(
        f"{stack.api_url}/v3/graphql",
        json={"query": QUERY, "variables": {"userId": user}},
        headers={"x-api-key": public},
        timeout=10,
    )
    customer = reply.json()["data"]["customer"]
    return [] if customer is None else [(e["node"]["name"], e["node"]["state"]) for e in customer["audiences"]["edges"]]


def client(host: str, write_key: str, errors: list, **options) -> Client:
    return Client(
        write_key, host=host, on_error=lambda error, batch: errors.append(error), upload_interval=0.1, **options
    )


@pytest.mark.parametrize("gzip", [False, True])
def test_identify_and_track_of_an_audience_show_in_graphql_and_segment_sizes(stack, tenant, gzip):
    _, public, _, _ = tenant
    errors: list = []
    analytics = client(stack.api_url, public, errors, gzip=gzip)
    past = datetime.now(UTC) - timedelta(seconds=60)
    analytics.identify("u1", {"e2e_vip": True, "email": "u1@example.com"}, context=engage(), timestamp=past)
    analytics.track("u2", "Audience Entered", {"audience_key": "e2e_vip", "e2e_vip": True}, engage(), past)
    analytics.track("u3", "Audience Entered", {"audience_key": "e2e_vip", "e2e_vip": True}, engage(), past)
    analytics.page("u1", name="Home")  # archived, changes nothing
    analytics.flush()
    assert errors == []
    assert audiences_of(stack, public, "u1") == [("e2e_vip", "qualified")]
    assert size(stack, tenant) == 3

    analytics.track(
        "u3", "Audience Exited", {"audience_key": "e2e_vip", "e2e_vip": False}, engage(), past + timedelta(seconds=1)
    )
    analytics.identify("u1", {"e2e_vip": False}, context=engage(), timestamp=past + timedelta(seconds=1))
    analytics.shutdown()
    assert errors == []
    assert audiences_of(stack, public, "u1") == [] and audiences_of(stack, public, "u2") == [("e2e_vip", "qualified")]
    assert size(stack, tenant) == 1


def test_its_own_batches_of_hundreds_of_calls_are_applied_exactly(stack, tenant):
    _, public, _, _ = tenant
    proxy = LosingProxy(stack.api_url)
    errors: list = []
    analytics = client(proxy.url, public, errors, upload_size=100)
    for n in range(250):
        analytics.track(f"b{n}", "Audience Entered", {"audience_key": "e2e_vip", "e2e_vip": True}, engage())
    analytics.shutdown()
    proxy.close()
    assert errors == [] and set(proxy.statuses) == {200}
    batches = [json.loads(body)["batch"] for body in proxy.bodies]
    assert len(batches) >= 3 and sum(map(len, batches)) == 250 and max(map(len, batches)) <= 100
    assert size(stack, tenant) == 250


def test_its_retries_of_answers_lost_after_the_stack_applied_them_converge(stack, tenant):
    _, public, _, _ = tenant
    proxy = LosingProxy(stack.api_url, lose=3)
    errors: list = []
    analytics = client(proxy.url, public, errors, upload_size=10, max_retries=8)
    now = datetime.now(UTC)
    for n in range(20):  # in and out again: each user's last call is the exit
        properties = {"audience_key": "e2e_vip", "e2e_vip": True}
        analytics.track(f"r{n}", "Audience Entered", properties, engage(), now - timedelta(seconds=30))
    for n in range(0, 20, 2):
        properties = {"audience_key": "e2e_vip", "e2e_vip": False}
        analytics.track(f"r{n}", "Audience Exited", properties, engage(), now - timedelta(seconds=20))
    analytics.shutdown()
    proxy.close()
    assert errors == []
    assert proxy.statuses[:3] == [200, 200, 200] and len(proxy.statuses) > 3  # applied, unheard, sent again
    assert size(stack, tenant) == 10
    assert audiences_of(stack, public, "r1") == [("e2e_vip", "qualified")] and audiences_of(stack, public, "r0") == []


def test_a_wrong_write_key_is_refused_and_not_retried(stack, tenant, caplog):
    proxy = LosingProxy(stack.api_url)
    errors: list = []
    analytics = client(proxy.url, "pa_pub_wrong", errors)
    with caplog.at_level(logging.CRITICAL, logger="segment"):
        analytics.track("w1", "Audience Entered", {"audience_key": "e2e_vip", "e2e_vip": True}, engage())
        analytics.shutdown()
    proxy.close()
    assert proxy.statuses == [401]  # a 4xx the library does not retry
    assert [(error.status, error.code) for error in errors] == [(401, "unauthorized")]
    assert size(stack, tenant) == 0


def test_a_user_named_by_a_mapped_trait_and_one_only_anonymous(stack, tenant, admin):
    name, public, _, _ = tenant
    assert admin("identity-map", "show", name).stdout.splitlines() == ["userId\tfs_user_id", "traits.email\temail"]
    refused = admin("identity-map", "set", name, "--user-id", "fs_user_id", "--trait", "email=email")
    assert refused.returncode == 1
    assert "identifier 'email' is not configured; user ids and traits need one of: fs_user_id" in refused.stderr
    assert admin("identity-map", "set", name, "--user-id", "x", "--trait", "email").returncode == 1  # TRAIT=FIELD
    assert admin("identifiers", "add", name, "email", "--confidence", "high").returncode == 0
    mapped = admin("identity-map", "set", name, "--user-id", "fs_user_id", "--trait", "email=email")
    assert mapped.returncode == 0, mapped.stderr
    assert mapped.stdout.splitlines()[:2] == ["userId\tfs_user_id", "traits.email\temail"]
    time.sleep(1.5)  # AUTH_CACHE_SECONDS: the stack's copy of the tenant
    errors: list = []
    analytics = client(stack.api_url, public, errors)
    traits = {"e2e_vip": True, "email": "anon@example.com"}
    analytics.identify(anonymous_id="a1", traits=traits, context=engage())
    analytics.track(
        anonymous_id="a2", event="Audience Entered", properties={"audience_key": "e2e_vip"}, context=engage()
    )
    analytics.shutdown()
    assert errors == []
    assert size(stack, tenant) == 1  # the email names one; the other is anonymous: archived, no membership
