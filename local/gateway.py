"""An HTTP server that routes like the template's Api events and sends v1 proxy events."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from local.lambdas import LocalFunction
from local.template import Route

STAGE = "live"
# What a REST API's ANY method stands for: any other method (TRACE, CONNECT, WebDAV's, made-up
# tokens) is no method of any resource, so API Gateway answers it as an unknown route.
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Target:
    route: Route
    pattern: re.Pattern
    function: LocalFunction

    @property
    def specificity(self) -> tuple[int, int]:
        parts = self.route.path.strip("/").split("/")
        return (sum(not p.startswith("{") for p in parts), len(parts))


def _pattern(path: str) -> re.Pattern:
    def part(segment: str) -> str:
        if match := re.fullmatch(r"\{(\w+)\+\}", segment):
            return f"(?P<{match.group(1)}>.+)"
        if match := re.fullmatch(r"\{(\w+)\}", segment):
            return f"(?P<{match.group(1)}>[^/]+)"
        return re.escape(segment)

    return re.compile("/" + "/".join(part(s) for s in path.strip("/").split("/")))


class Router:
    def __init__(self, functions: list[LocalFunction]) -> None:
        targets = [Target(route, _pattern(route.path), fn) for fn in functions for route in fn.function.routes]
        # API Gateway prefers literal path parts over parameters, then longer paths.
        self.targets = sorted(targets, key=lambda t: t.specificity, reverse=True)

    def match(self, method: str, path: str) -> tuple[Target, dict[str, str]] | None:
        """As API Gateway: the most specific resource whose path matches, then its method (or ANY).

        A resource without the method is no match, even if a less specific one (a greedy
        `{proxy+}`) has it: API Gateway answers such a request 403 and so does this.
        """
        if method not in HTTP_METHODS:
            return None
        for target in self.targets:
            if target.pattern.fullmatch(path):
                resource = target.route.path
                break
        else:
            return None
        for target in self.targets:
            if target.route.path == resource and target.route.method in (method, "ANY"):
                params = target.pattern.fullmatch(path).groupdict()
                return target, {name: unquote(value) for name, value in params.items()}
        return None


def proxy_event(
    target: Target, params: dict, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes
) -> dict:
    """An API Gateway REST (v1) proxy integration event."""
    url = urlsplit(raw_path)
    query = parse_qsl(url.query, keep_blank_values=True)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in query:
        multi_query.setdefault(name, []).append(value)
    try:
        text, is_base64 = body.decode(), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    return {
        "resource": target.route.path,
        "path": url.path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": target.route.path,
            "httpMethod": method,
            "path": f"/{STAGE}{url.path}",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": text if body else None,
        "isBase64Encoded": is_base64,
    }


def _gateway_error(status: int, error_type: str, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)]
    return status, headers, json.dumps({"message": message}).encode()


def respond(router: Router, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes):
    """(status, headers, body) for one HTTP request, as API Gateway would answer it."""
    found = router.match(method, urlsplit(raw_path).path)
    if found is None:  # API Gateway's answer to any method and path no resource routes
        return _gateway_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    target, params = found
    try:
        result = target.function.invoke(proxy_event(target, params, method, raw_path, headers, body))
    except Exception:  # the Lambda failed: API Gateway hides why
        return _gateway_error(502, "InternalServerErrorException", "Internal server error")
    out_headers = list((result.get("headers") or {}).items())
    for name, values in (result.get("multiValueHeaders") or {}).items():
        out_headers.extend((name, value) for value in values)
    payload = result.get("body") or ""
    data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
    return int(result["statusCode"]), out_headers, data


def serve(router: Router, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes: with Nagle's algorithm the body would wait for the client's
        # delayed ACK of the headers (40 ms on Linux) on every kept-alive request.
        disable_nagle_algorithm = True

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, data = respond(router, self.command, self.path, list(self.headers.items()), body)
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":  # a HEAD answer has headers only
                self.wfile.write(data)

        def __getattr__(self, name: str):
            # http.server answers 501 for a method without a do_<METHOD>; every method is routed instead.
            if name.startswith("do_"):
                return self._handle
            raise AttributeError(name)

        def log_request(self, code="-", size="-") -> None:
            # Method, path and status only: query strings, headers and bodies may hold keys or user ids.
            print(f"{self.command} {urlsplit(self.path).path} {code}", flush=True)

    return ThreadingHTTPServer((host, port), Handler)
