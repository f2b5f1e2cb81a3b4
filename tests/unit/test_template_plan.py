"""Reading the template and resolving intrinsics against local names."""

from __future__ import annotations

import re

import pytest

from local import provision, template
from local.template import Intrinsics


def test_intrinsics_this_template_uses():
    intrinsics = Intrinsics(
        refs={"AWS::StackId": "arn:aws:cloudformation:r:1:stack/s/uuid-1", "Table": "t", "AWS::Region": "r"},
        attributes={("Queue", "Arn"): "arn:q"},
    )
    assert intrinsics.resolve({"Ref": "Table"}) == "t"
    assert intrinsics.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == "arn:q"
    select = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}
    assert intrinsics.resolve({"Fn::Join": ["-", ["x", select]]}) == "x-uuid-1"
    assert intrinsics.resolve({"Fn::Sub": "${Queue.Arn}/${AWS::Region}/${Table}"}) == "arn:q/r/t"
    assert intrinsics.resolve({"a": [{"Ref": "Table"}], "b": 1}) == {"a": ["t"], "b": 1}


def test_short_form_tags_load_as_long_form(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("A: !Ref X\nB: !GetAtt Y.Arn\nC: !Sub '${X}'\nD: !Join ['-', [a, b]]\n")
    assert template.load(path) == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["Y", "Arn"]},
        "C": {"Fn::Sub": "${X}"},
        "D": {"Fn::Join": ["-", ["a", "b"]]},
    }


def test_imports_bucket_name_is_computed_from_the_stack_id():
    plan = provision.plan(template.load())
    uuid = provision.STACK_ID.rsplit("/", 1)[1]
    assert plan.names["ImportsBucket"] == f"audience-imports-{uuid}"


def test_functions_that_disagree_on_a_variable_are_refused():
    spec = template.load()
    functions = template.functions(spec)
    functions[0].environment["TENANTS_TABLE"] = "something-else"
    with pytest.raises(ValueError, match="TENANTS_TABLE"):
        provision.plan(spec).environment(functions)


def test_an_unknown_intrinsic_or_name_is_refused_not_passed_through():
    intrinsics = Intrinsics(refs={"Table": "t"}, attributes={})
    with pytest.raises(template.Unsupported, match="Fn::If is not an intrinsic"):
        intrinsics.resolve({"Fn::If": ["IsProd", "a", "b"]})
    with pytest.raises(template.Unsupported, match="Ref Missing: the local stack knows no such"):
        intrinsics.resolve({"Ref": "Missing"})
    with pytest.raises(template.Unsupported, match=r"Fn::GetAtt Queue\.Arn"):
        intrinsics.resolve({"Fn::GetAtt": ["Queue", "Arn"]})
    with pytest.raises(template.Unsupported, match=r"\$\{Table\.Arn\}"):
        intrinsics.resolve({"Fn::Sub": "${Table.Arn}"})


def test_an_event_type_the_local_stack_cannot_run_is_refused():
    spec = template.load()
    spec["Resources"]["IngestFunction"]["Properties"]["Events"]["Stream"] = {
        "Type": "DynamoDB",
        "Properties": {"Stream": "arn:aws:dynamodb:…/stream/…", "StartingPosition": "LATEST"},
    }
    with pytest.raises(template.Unsupported, match=re.escape("IngestFunction.Events.Stream is of type 'DynamoDB'")):
        template.functions(spec)


def test_the_scheduled_functions_are_run_by_the_local_stack():
    scheduled = [function.logical_id for function in template.functions(template.load()) if function.scheduled]
    assert sorted(scheduled) == ["ExpirySweepFunction", "PrivacyFunction"]


def test_a_resource_type_the_local_stack_does_not_provide_is_refused():
    spec = template.load()
    spec["Resources"]["Stream"] = {"Type": "AWS::Kinesis::Stream", "Properties": {}}
    with pytest.raises(template.Unsupported, match="Stream is an AWS::Kinesis::Stream"):
        provision.plan(spec)
