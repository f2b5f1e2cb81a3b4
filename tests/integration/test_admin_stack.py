"""The operator CLI finding a deployed stack's tables through its CloudFormation outputs."""

from __future__ import annotations

import json

import boto3

from audiences import admin
from tests.conftest import PLAN


def create_stack(name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )


def test_stack_outputs_point_the_cli_at_the_tables(aws, demo, capsys):
    create_stack(
        "deployed",
        {
            "TenantsTableName": PLAN.names["TenantsTable"],
            "CatalogTableName": PLAN.names["CatalogTable"],
            "MembershipsTableName": PLAN.names["MembershipsTable"],
            "DataBucketName": PLAN.names["DataBucket"],
        },
    )
    assert admin.main(["--stack", "deployed", "--region", "us-east-1", "tenants", "list"]) == 0
    assert capsys.readouterr().out.startswith("demo\t")


def test_a_stack_of_another_application_is_refused(aws, capsys):
    create_stack("unrelated", {"Something": "else"})
    assert admin.main(["--stack", "unrelated", "--region", "us-east-1", "tenants", "list"]) == 1
    assert "has no output(s) TenantsTableName" in capsys.readouterr().err


def test_a_missing_stack_is_an_aws_error_not_a_traceback(aws, capsys):
    assert admin.main(["--stack", "nowhere", "--region", "us-east-1", "tenants", "list"]) == 1
    assert capsys.readouterr().err.startswith("error: AWS said:")
