"""A deployed stack's outputs: where an operator tool finds the tables."""

from __future__ import annotations

import boto3


def outputs(stack_name: str, region: str | None) -> tuple[dict[str, str], str]:
    """The stack's outputs by key, and the region it was found in (`region`, or the configured one)."""
    cloudformation = boto3.client("cloudformation", region_name=region)
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    found = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    return found, cloudformation.meta.region_name
