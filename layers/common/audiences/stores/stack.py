"""A deployed stack's outputs: where an operator tool finds the tables."""

from __future__ import annotations

import boto3


def outputs(stack_name: str, region: str | None) -> dict[str, str]:
    stack = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
