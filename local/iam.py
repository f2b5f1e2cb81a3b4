"""The functions' IAM policies from template.yaml, enforced on their AWS calls: moto enforces none.

A call made during a function's invocation (on its thread, or on a worker thread of its own,
invocations being serialized locally) is checked against that function's policy, as AWS would
check its execution role; a call it may not make fails with AWS's AccessDenied, so a policy
missing a permission fails the tests instead of the deployed stack. Calls made outside an
invocation (provisioning, seeding, tests' own set-up, the operator CLI) are the operator's, and
not checked. A presigned URL is checked when it is made, not when it is used (AWS answers the
upload 403).

Only what the template uses is understood; anything else is refused loudly (`Unsupported`), so
an unenforced policy cannot pass for an enforced one.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from botocore.exceptions import ClientError
from botocore.handlers import BUILTIN_HANDLERS

from local.provision import ACCOUNT_ID, Plan, arn
from local.template import Unsupported

# What SAM attaches besides a function's Policies, as far as the functions can call it: an SQS
# event source brings AWSLambdaSQSQueueExecutionRole, which the event source mapping uses.
_SQS_EVENT_SOURCE = {
    "Effect": "Allow",
    "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
    "Resource": "*",
}
_CONDITION_OPERATORS = {"StringEquals", "StringLike"}
DENIED = "local IAM denied: "  # how a denial starts in the local stack's log


@dataclass(frozen=True)
class Request:
    """One authorization an AWS call needs; a call may need several (a transaction's items)."""

    action: str  # "dynamodb:UpdateItem"
    resource: str  # an ARN
    context: tuple[tuple[str, str], ...] = ()  # condition keys, e.g. (("s3:prefix", "t/sources/"),)


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (operator, key, patterns)

    def matches(self, request: Request) -> bool:
        return (
            any(_like(pattern, request.action, ignore_case=True) for pattern in self.actions)
            and any(_like(pattern, request.resource) for pattern in self.resources)
            and all(self._holds(condition, dict(request.context)) for condition in self.conditions)
        )

    @staticmethod
    def _holds(condition: tuple[str, str, tuple[str, ...]], context: dict[str, str]) -> bool:
        operator, key, patterns = condition
        if key not in context:  # AWS: a condition on a key the request lacks does not hold
            return False
        if operator == "StringLike":
            return any(_like(pattern, context[key]) for pattern in patterns)
        return context[key] in patterns


@dataclass(frozen=True)
class Policy:
    """A function's execution role. As in AWS, nothing is allowed unless a statement allows it, and
    an explicit Deny wins over any Allow."""

    function: str
    statements: tuple[Statement, ...] = ()

    def allows(self, request: Request) -> bool:
        matching = [statement.effect for statement in self.statements if statement.matches(request)]
        return "Allow" in matching and "Deny" not in matching

    def denial(self, request: Request) -> str:
        return (
            f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/{self.function}Role/{self.function} is not authorized "
            f"to perform: {request.action} on resource: {request.resource} because no identity-based policy "
            f"allows the {request.action} action (template.yaml: add it to {self.function}'s Policies)"
        )


@cache
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern:
    """IAM's wildcards: * any run of characters, ? any one; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


def _like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


def _listed(value) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def _statement(function: str, raw: dict) -> Statement:
    unknown = set(raw) - {"Effect", "Action", "Resource", "Condition", "Sid"}
    if unknown:
        raise Unsupported(f"{function}: local/iam.py does not enforce {sorted(unknown)} in a policy statement")
    if raw["Effect"] not in ("Allow", "Deny"):
        raise Unsupported(f"{function}: a statement's Effect is Allow or Deny, not {raw['Effect']!r}")
    conditions = []
    for operator, tests in raw.get("Condition", {}).items():
        if operator not in _CONDITION_OPERATORS:
            raise Unsupported(f"{function}: local/iam.py enforces the conditions {sorted(_CONDITION_OPERATORS)} only")
        conditions += [(operator, key, _listed(patterns)) for key, patterns in tests.items()]
    return Statement(raw["Effect"], _listed(raw["Action"]), _listed(raw["Resource"]), tuple(conditions))


def policies(plan: Plan) -> dict[str, Policy]:
    """Every function's policy, by logical id, with the template's names resolved locally."""
    found = {}
    for function, resource in plan.of_type("AWS::Serverless::Function").items():
        props = resource["Properties"]
        if "Role" in props:
            raise Unsupported(f"{function} names its own Role: local/iam.py reads Policies only")
        raw = []
        for policy in props.get("Policies", []):
            if not (isinstance(policy, dict) and set(policy) - {"Version"} == {"Statement"}):
                raise Unsupported(f"{function}: local/iam.py enforces inline Statement policies only, not {policy!r}")
            statements = plan.intrinsics.resolve(policy["Statement"])
            raw += statements if isinstance(statements, list) else [statements]
        if any(event["Type"] == "SQS" for event in props.get("Events", {}).values()):
            raw.append(_SQS_EVENT_SOURCE)
        found[function] = Policy(function, tuple(_statement(function, statement) for statement in raw))
    return found


# Which IAM action each operation needs, where it is not the operation's own name.
_S3_ACTIONS = {
    "HeadObject": "GetObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "ListParts": "ListMultipartUploadParts",
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
}
_S3_OBJECT = {"GetObject", "PutObject", "DeleteObject", "AbortMultipartUpload", "ListMultipartUploadParts"}
_SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_SQS = {"SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "GetQueueAttributes"}
_DYNAMODB_TABLE = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable"}
_TRANSACT_ITEMS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def _table(name: str, index: str | None = None) -> str:
    table = name if name.startswith("arn:") else arn("AWS::DynamoDB::Table", name)
    return f"{table}/index/{index}" if index else table


def _queue(url_or_name: str) -> str:
    return arn("AWS::SQS::Queue", url_or_name.rstrip("/").rsplit("/", 1)[-1])


def key_aliases(plan: Plan) -> dict[str, str]:
    """The ARN of the key each of the template's KMS aliases names (the functions name keys by alias)."""
    return {
        plan.names[logical_id]: arn("AWS::KMS::Key", plan.names[resource["Properties"]["TargetKeyId"]["Ref"]])
        for logical_id, resource in plan.of_type("AWS::KMS::Alias").items()
    }


_KMS = {"Decrypt", "Encrypt", "GenerateDataKey"}


def _key(params: dict, aliases: Mapping[str, str]) -> str:
    """The key a KMS call names. Decrypt may leave it to the ciphertext, which is not read here: name it."""
    key = params.get("KeyId")
    if key is None:
        raise Unsupported("local/iam.py authorizes a KMS call on the key its KeyId names: pass KeyId")
    if key.startswith("alias/"):
        if key not in aliases:
            raise Unsupported(f"local/iam.py knows no key by the alias {key}: the template's are {sorted(aliases)}")
        return aliases[key]
    return key if key.startswith("arn:") else arn("AWS::KMS::Key", key)


def requests(service: str, operation: str, params: dict, key_aliases: Mapping[str, str] | None = None) -> list[Request]:
    """The authorizations one call needs, as AWS evaluates them for the caller's role (KMS aliases resolved
    by `key_aliases`)."""
    if service == "dynamodb":
        if operation in _DYNAMODB_TABLE:
            return [Request(f"dynamodb:{operation}", _table(params["TableName"], params.get("IndexName")))]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [Request(f"dynamodb:{operation}", _table(table)) for table in params["RequestItems"]]
        if operation in ("TransactWriteItems", "TransactGetItems"):  # authorized item by item
            items = [next(iter(item.items())) for item in params["TransactItems"]]
            return [Request(f"dynamodb:{_TRANSACT_ITEMS[kind]}", _table(item["TableName"])) for kind, item in items]
    elif service == "s3":
        action = _S3_ACTIONS.get(operation, operation)
        if operation in ("DeleteObject", "GetObject") and params.get("VersionId"):
            versioned = {"DeleteObject": "s3:DeleteObjectVersion", "GetObject": "s3:GetObjectVersion"}[operation]
            return [Request(versioned, f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")]
        if action in _S3_OBJECT:
            return [Request(f"s3:{action}", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")]
        if operation == "DeleteObjects":
            bucket = params["Bucket"]
            return [
                Request("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{o['Key']}") for o in params["Delete"]["Objects"]
            ]
        if operation == "ListObjectVersions":
            prefix = (("s3:prefix", params.get("Prefix", "")),)
            return [Request("s3:ListBucketVersions", f"arn:aws:s3:::{params['Bucket']}", prefix)]
        if action == "ListBucket":
            prefix = (("s3:prefix", params.get("Prefix", "")),)
            return [Request("s3:ListBucket", f"arn:aws:s3:::{params['Bucket']}", prefix)]
    elif service == "sqs":
        action = _SQS_ACTIONS.get(operation, operation)
        if action in _SQS:
            return [Request(f"sqs:{action}", _queue(params["QueueUrl"]))]
        if operation == "GetQueueUrl":
            return [Request("sqs:GetQueueUrl", _queue(params["QueueName"]))]
    elif service == "firehose" and operation in ("PutRecord", "PutRecordBatch"):
        stream = arn("AWS::KinesisFirehose::DeliveryStream", params["DeliveryStreamName"])
        return [Request(f"firehose:{operation}", stream)]
    elif service == "kms" and operation in _KMS:
        context = tuple(
            (f"kms:EncryptionContext:{k}", v) for k, v in sorted(params.get("EncryptionContext", {}).items())
        )
        return [Request(f"kms:{operation}", _key(params, key_aliases or {}), context)]
    raise Unsupported(f"local/iam.py does not know which IAM action {service}.{operation} needs: add it")


@dataclass(frozen=True)
class Denial:
    function: str
    request: Request
    thread: str


class AccessDenied(ClientError):
    """What AWS answers a call the caller's role does not allow."""


_CODES = {"s3": ("AccessDenied", 403), "sqs": ("AccessDenied", 403)}  # the others: AccessDeniedException, 400


class Enforcer:
    """Whose policy a call is checked against: the calling thread's own, else the invocation in flight."""

    def __init__(self) -> None:
        self.by_function: dict[str, Policy] = {}
        self.key_aliases: dict[str, str] = {}
        self.denied: list[Denial] = []  # every denial, for tests
        self._in_flight: Policy | None = None
        self._local = threading.local()

    def enforce(self, plan: Plan) -> None:
        self.by_function = policies(plan)
        self.key_aliases = key_aliases(plan)

    @contextmanager
    def acting_as(self, function: str, invocation: bool = True) -> Iterator[None]:
        """Calls in this block are `function`'s. An invocation's worker threads act as it too; the
        event source mapping acting for a function (invocation=False) does so on its thread only."""
        policy = self.by_function.get(function, Policy(function))  # no policy: allowed nothing
        outer, self._local.policy = getattr(self._local, "policy", None), policy
        if invocation:
            self._in_flight = policy
        try:
            yield
        finally:
            self._local.policy = outer
            if invocation:
                self._in_flight = None

    def __call__(self, model, params, **_) -> None:
        """botocore's before-parameter-build: every call, and every presigned URL, before it is made."""
        policy = getattr(self._local, "policy", None) or self._in_flight
        if policy is None:
            return
        service = model.service_model.service_name
        needed = requests(service, model.name, params, self.key_aliases)
        for request in dict.fromkeys(needed):  # a transaction's items repeat
            if not policy.allows(request):
                self.denied.append(Denial(policy.function, request, threading.current_thread().name))
                message = policy.denial(request)
                print(DENIED + message, file=sys.stderr, flush=True)  # in the stack's log, even if swallowed
                code, status = _CODES.get(service, ("AccessDeniedException", 400))
                error = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
                raise AccessDenied(error, model.name)


# Every botocore session (boto3's, PynamoDB's) copies BUILTIN_HANDLERS when it is created, so
# this is registered on import, before any session: local.lambdas, which invokes, imports it.
ENFORCER = Enforcer()
BUILTIN_HANDLERS.append(("before-parameter-build", ENFORCER))
