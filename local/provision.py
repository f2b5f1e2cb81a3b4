"""Create every table, queue, bucket, bucket notification and KMS key of template.yaml in (moto) AWS.

Physical names are deterministic, so tests can compute the functions' environment before
anything exists; a KMS key's id is KMS's to choose, so the functions name it by its alias. moto
enforces no policies: resource and key policies are not applied, and the functions' IAM policies
are enforced in-process by local/iam.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import boto3

from local.template import Function, Intrinsics, Unsupported

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
STACK_NAME = "passthrough-audiences-local"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/0c0ffee0-0000-4000-8000-00000000a11d"

# What the local stack creates (tables, queues, buckets, streams, keys), runs in-process (functions, the API) or
# can do without (moto enforces no policies; the layer is on sys.path). Anything else is refused.
_CREATED = {
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::S3::Bucket",
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
}
_NOT_NEEDED = {
    "AWS::Serverless::Function",
    "AWS::Serverless::Api",
    "AWS::Serverless::LayerVersion",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::IAM::Role",
}

# The ARN of each kind of resource that has one, from its physical name.
_ARNS = {
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::KinesisFirehose::DeliveryStream": "arn:aws:firehose:{region}:{account}:deliverystream/{name}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    # locally a stand-in for the id KMS chooses: only the functions' IAM policies name the key by it
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{name}",
}


def arn(kind: str, name: str) -> str:
    """The ARN of the resource of type `kind` (one of _ARNS) with this physical name."""
    return _ARNS[kind].format(region=REGION, account=ACCOUNT_ID, name=name)


_PSEUDO = {
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::StackName": STACK_NAME,
    "AWS::StackId": STACK_ID,
    "AWS::URLSuffix": "amazonaws.com",
}


@dataclass(frozen=True)
class Plan:
    """Physical names of the template's resources, and the intrinsics resolved against them."""

    template: dict
    names: dict[str, str]
    intrinsics: Intrinsics

    def of_type(self, resource_type: str) -> dict[str, dict]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }

    def environment(self, functions: list[Function]) -> dict[str, str]:
        """The functions' variables merged; they share one process locally, so they must agree."""
        merged: dict[str, str] = {}
        for function in functions:
            for name, value in function.environment.items():
                value = str(self.intrinsics.resolve(value))
                if merged.setdefault(name, value) != value:
                    raise ValueError(f"{function.logical_id} sets {name}={value!r}, another function {merged[name]!r}")
        return merged


# Parameters the local stack sets otherwise than their defaults: its Firehose delivers at once, so a privacy job
# waits only for the containers' copies of the marks, kept a second here.
LOCAL_PARAMETERS = {"PrivacySettleSeconds": 1, "PrivacyCacheSeconds": 1}


def local_parameters(overrides: str) -> dict[str, object]:
    """LOCAL_PARAMETERS with `Name=Value …` over them, as `sam local --parameter-overrides` takes them
    (`make run` reads PARAMETER_OVERRIDES)."""
    given = dict(pair.split("=", 1) for pair in overrides.split() if "=" in pair)
    return LOCAL_PARAMETERS | given


def plan(template: dict, parameters: dict[str, object] = LOCAL_PARAMETERS) -> Plan:
    refs = dict(_PSEUDO)
    refs.update({name: spec.get("Default", "") for name, spec in template.get("Parameters", {}).items()})
    refs.update(parameters)
    attributes: dict[tuple[str, str], str] = {}
    names: dict[str, str] = {}
    intrinsics = Intrinsics(refs, attributes)
    for logical_id, resource in template["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind not in _CREATED | _NOT_NEEDED:
            raise Unsupported(f"{logical_id} is an {kind}, which the local stack does not provide: add it to local/")
        if kind == "AWS::S3::Bucket":
            default = f"{STACK_NAME}-{logical_id}".lower()
            name = intrinsics.resolve(props["BucketName"]) if "BucketName" in props else default
        elif kind == "AWS::KMS::Alias":
            target = props["TargetKeyId"]
            if not (isinstance(target, dict) and set(target) == {"Ref"}):
                raise Unsupported(f"{logical_id}: the local stack aliases a key of the template by Ref only")
            name = intrinsics.resolve(props["AliasName"])
        else:
            name = f"{STACK_NAME}-{logical_id}" if kind in _ARNS else logical_id
        if kind in _ARNS:
            attributes[(logical_id, "Arn")] = arn(kind, name)
        if kind == "AWS::SQS::Queue":
            attributes[(logical_id, "QueueName")] = name
            attributes[(logical_id, "QueueUrl")] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"
        names[logical_id] = name
        # Ref is the name, except for a queue, whose Ref is its URL (as CloudFormation has it)
        refs[logical_id] = attributes.get((logical_id, "QueueUrl"), name)
    return Plan(template=template, names=names, intrinsics=intrinsics)


def provision(stack: Plan, session: boto3.Session | None = None) -> None:
    session = session or boto3.Session(region_name=REGION)
    _create_queues(stack, session.client("sqs"))
    _create_tables(stack, session.client("dynamodb"))
    _create_buckets(stack, session.client("s3"))
    _create_delivery_streams(stack, session.client("firehose"))
    _create_keys(stack, session.client("kms"))


def _create_tables(stack: Plan, dynamodb) -> None:
    for logical_id, resource in stack.of_type("AWS::DynamoDB::Table").items():
        props = resource["Properties"]
        request = {
            "TableName": stack.names[logical_id],
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PROVISIONED"),
        }
        for optional in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if optional in props:
                request[optional] = props[optional]
        dynamodb.create_table(**request)
        if "TimeToLiveSpecification" in props:
            dynamodb.update_time_to_live(
                TableName=request["TableName"], TimeToLiveSpecification=props["TimeToLiveSpecification"]
            )


def _create_queues(stack: Plan, sqs) -> None:
    queues = stack.of_type("AWS::SQS::Queue")
    # A queue's dead-letter queue must exist before it.
    for logical_id, resource in sorted(
        queues.items(), key=lambda item: "RedrivePolicy" in item[1].get("Properties", {})
    ):
        attributes = {}
        for name, value in resource.get("Properties", {}).items():
            value = stack.intrinsics.resolve(value)
            attributes[name] = (
                json.dumps(value)
                if isinstance(value, dict)
                else str(value).lower()
                if isinstance(value, bool)
                else str(value)
            )
        sqs.create_queue(QueueName=stack.names[logical_id], Attributes=attributes)


def _create_buckets(stack: Plan, s3) -> None:
    for logical_id, resource in stack.of_type("AWS::S3::Bucket").items():
        bucket = stack.names[logical_id]
        s3.create_bucket(Bucket=bucket)
        notifications = resource.get("Properties", {}).get("NotificationConfiguration", {})
        queue_configs = [
            {"QueueArn": stack.intrinsics.resolve(config["Queue"]), "Events": [config["Event"]]}
            | ({"Filter": config["Filter"]} if "Filter" in config else {})
            for config in notifications.get("QueueConfigurations", [])
        ]
        if queue_configs:
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"QueueConfigurations": queue_configs}
            )


def _create_delivery_streams(stack: Plan, firehose) -> None:
    """Each stream as CloudFormation would create it; its properties are the API's, by name."""
    for logical_id, resource in stack.of_type("AWS::KinesisFirehose::DeliveryStream").items():
        props = stack.intrinsics.resolve(resource["Properties"])
        firehose.create_delivery_stream(DeliveryStreamName=stack.names[logical_id], **props)


def _create_keys(stack: Plan, kms) -> None:
    """Each key with its policy and rotation, then each alias, onto the id KMS gave its key."""
    key_ids = {}
    for logical_id, resource in stack.of_type("AWS::KMS::Key").items():
        props = stack.intrinsics.resolve(resource["Properties"])
        made = kms.create_key(
            Description=props.get("Description", ""),
            KeySpec=props.get("KeySpec", "SYMMETRIC_DEFAULT"),
            Policy=json.dumps(props["KeyPolicy"]),
        )
        key_ids[logical_id] = made["KeyMetadata"]["KeyId"]
        if props.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=key_ids[logical_id])
    for logical_id, resource in stack.of_type("AWS::KMS::Alias").items():
        target = resource["Properties"]["TargetKeyId"]["Ref"]  # plan() refuses any other form
        kms.create_alias(AliasName=stack.names[logical_id], TargetKeyId=key_ids[target])
