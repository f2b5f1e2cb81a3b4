"""S3's refusals of bad presigned URLs, in front of moto, which accepts any signature.

Without this, an upload URL edited to another tenant's key, signed with garbage or long
expired would be written locally where S3 refuses all three, and upload isolation tests
would prove nothing. The signature is recomputed with botocore's own signer from the
request as it arrived, and compared. Requests signed in a header (the functions' own
calls, an operator's CLI) pass as before: the local stack does not check AWS credentials,
which is why it listens on loopback only.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTH_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders")
_SIGNATURE = "X-Amz-Signature"
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_LONGEST_EXPIRY = 7 * 24 * 3600  # S3's limit for SigV4 presigned URLs


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str

    def xml(self) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{self.message}</Message></Error>"
        ).encode()


_MISSING_PARAMS = Refusal(
    400,
    "AuthorizationQueryParametersError",
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
)
_SIGV2 = Refusal(
    400,
    "AuthorizationQueryParametersError",
    "The local stack checks SigV4 presigned URLs only: presign with signature_version='s3v4'.",
)
_ANONYMOUS = Refusal(403, "AccessDenied", "Access Denied")
_EXPIRED = Refusal(403, "AccessDenied", "Request has expired")
_UNKNOWN_KEY = Refusal(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
_MISMATCH = Refusal(
    403,
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
)


@dataclass(frozen=True)
class PresignedUrlCheck:
    """WSGI middleware: requests to `buckets` must be header-signed or carry a valid presigned URL."""

    app: Callable
    buckets: frozenset[str]
    credentials: Credentials
    region: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST", "")
        target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        if self._bucket_of(host, target) is None:
            return self.app(environ, start_response)
        headers = {name[5:].replace("_", "-").lower(): value for name, value in environ.items() if name[:5] == "HTTP_"}
        for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(name):
                headers[name.replace("_", "-").lower()] = environ[name]
        refusal = self.refusal(environ["REQUEST_METHOD"], f"http://{host}{target}", headers)
        if refusal is None:
            return self.app(environ, start_response)
        body = refusal.xml()
        start_response(
            f"{refusal.status} {'Forbidden' if refusal.status == 403 else 'Bad Request'}",
            [("Content-Type", "application/xml"), ("Content-Length", str(len(body))), ("Connection", "close")],
        )
        return [body]

    def _bucket_of(self, host: str, target: str) -> str | None:
        """The bucket a request addresses, virtual-hosted (bucket.host) or path-style (/bucket/key)."""
        virtual = host.split(".", 1)[0]
        if "." in host and virtual in self.buckets:
            return virtual
        first = urlsplit(target).path.lstrip("/").split("/", 1)[0]
        return first if first in self.buckets else None

    def refusal(self, method: str, url: str, headers: Mapping[str, str]) -> Refusal | None:
        """Why S3 would refuse this request to one of the buckets, or None when it would not."""
        query = parse_qs(urlsplit(url).query, keep_blank_values=True)
        if _SIGNATURE not in query:
            if "Signature" in query:
                return _SIGV2
            return None if "authorization" in headers else _ANONYMOUS
        params = {name: values[0] for name, values in query.items() if name in (*_AUTH_PARAMS, _SIGNATURE)}
        if len(params) != len(_AUTH_PARAMS) + 1 or not params["X-Amz-Expires"].isdigit():
            return _MISSING_PARAMS
        try:
            signed_at = datetime.strptime(params["X-Amz-Date"], _TIMESTAMP).replace(tzinfo=UTC)
        except ValueError:
            return _MISSING_PARAMS
        if int(params["X-Amz-Expires"]) > _LONGEST_EXPIRY:
            return _MISSING_PARAMS
        if params["X-Amz-Credential"].split("/", 1)[0] != self.credentials.access_key:
            return _UNKNOWN_KEY
        if self.clock() > signed_at + timedelta(seconds=int(params["X-Amz-Expires"])):
            return _EXPIRED
        expected = self._signature(method, url, headers, params)
        return None if hmac.compare_digest(expected, params[_SIGNATURE]) else _MISMATCH

    def _signature(self, method: str, url: str, headers: Mapping[str, str], params: dict[str, str]) -> str:
        """What botocore would have signed for this method, path, query and the headers it names."""
        parts = urlsplit(url)
        unsigned_query = "&".join(pair for pair in parts.query.split("&") if not pair.startswith(_SIGNATURE + "="))
        signed = params["X-Amz-SignedHeaders"].split(";")
        request = AWSRequest(
            method=method,
            url=parts._replace(query=unsigned_query).geturl(),
            headers={name: headers.get(name, "") for name in signed},
        )
        request.context["timestamp"] = params["X-Amz-Date"]
        signer = S3SigV4QueryAuth(self.credentials, "s3", self.region, expires=int(params["X-Amz-Expires"]))
        return signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
