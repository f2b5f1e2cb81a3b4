"""The template against itself, the code and the models: what `sam validate --lint` misses."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import lint_all
from pynamodb.models import Model

from audiences.settings import Settings
from audiences.stores import models
from local import lambdas, provision, template
from local.gateway import Router, respond
from tests.conftest import FUNCTIONS, PLAN, TEMPLATE

TEMPLATE_TEXT = template.TEMPLATE.read_text()


def problems(text: str) -> list[str]:
    """cfn-lint errors and warnings; cfn-lint runs the SAM transform first, so this lints what deploys."""
    return [f"{m.rule.id} {m.path} {m.message}" for m in lint_all(text) if m.rule.id[0] in "EW"]


def test_translated_template_lints_clean():
    assert problems(TEMPLATE_TEXT) == []


def test_lint_catches_the_bucket_notification_cycle():
    """If the queue policy named the bucket by reference, deploys would fail; the check must see it."""
    cyclic = TEMPLATE_TEXT.replace(
        "            Condition:\n              ArnEquals:",
        "            Condition:\n"
        '              ArnLike: {"aws:SourceArn": !GetAtt ImportsBucket.Arn}\n'
        "              ArnEquals:",
        1,
    )
    assert cyclic != TEMPLATE_TEXT
    assert any(problem.startswith("E3004") for problem in problems(cyclic))


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
def test_every_handler_is_importable(function):
    assert callable(lambdas.load(function).handler)


def test_function_code_dirs_do_not_shadow_each_other():
    """Lambda gives each function its own root; locally they share sys.path, so only app.py may repeat."""
    seen: dict[str, str] = {}
    for code_dir in sorted({function.code_dir for function in FUNCTIONS}):  # functions may share one
        for path in code_dir.iterdir():
            name = path.stem if path.suffix == ".py" else path.name
            if name in ("app", "__pycache__"):
                continue
            assert name not in seen, f"{code_dir.name} and {seen[name]} both define {name}"
            seen[name] = code_dir.name


ROUTES = [(function, route) for function in FUNCTIONS for route in function.routes]


# Static pages and files, holding no data: GraphQL's explorer, the OpenAPI document, Swagger UI, the console.
PUBLIC_ROUTES = {
    ("GET", path): content_type
    for path, content_type in {
        "/v3/graphql": "text/html",
        "/openapi.json": "application/json",
        "/docs": "text/html; charset=utf-8",
        "/docs/{name}": "text/css; charset=utf-8",
        "/console": "text/html; charset=utf-8",
        "/console/{name}": "text/javascript; charset=utf-8",
    }.items()
}
ASSETS = {"/docs/{name}": "/docs/swagger-ui.min.css", "/console/{name}": "/console/console.js"}


@pytest.mark.parametrize("function,route", ROUTES, ids=lambda x: getattr(x, "path", getattr(x, "logical_id", "")))
def test_every_template_route_is_served_by_its_function(function, route):
    """An unauthenticated call must reach the function's own route (its 403), not a 404 of the resolver."""
    router = Router([lambdas.load(function)])
    path = (
        ASSETS.get(route.path, route.path).replace("{segment_id}", "some_segment").replace("{proxy+}", "no/such/path")
    )
    method = "GET" if route.method == "ANY" else route.method
    status, headers, body = respond(router, method, path, [], b"{}")
    adobe = route.path.startswith(("/data/core/ais/", "/data/core/privacy/"))
    tracking = route.path.startswith("/v1/")
    if tracking:  # Segment's Tracking API: its own shape, for a catch-all and a route alike
        expected = (404, "not_found") if "{proxy+}" in route.path else (401, "unauthorized")
        assert (status, json.loads(body)["code"]) == expected
    elif "{proxy+}" in route.path:  # a catch-all: the function's own 404, in its dialect
        kind = json.loads(body)["report"]["errorCode"] if adobe else json.loads(body)["errors"][0]["type"]
        assert (status, kind) == (404, "100940-404" if adobe else "not-found")
    elif (route.method, route.path) in PUBLIC_ROUTES:
        assert status == 200 and ("Content-Type", PUBLIC_ROUTES[route.method, route.path]) in headers
    elif route.path == "/console/api/customers":  # Powertools checks its required query before the key
        assert status == 400 and "field: Field required" in json.loads(body)["error"]["message"]
    elif route.path.startswith("/console/api/"):  # the console's own shape
        assert status == 401 and json.loads(body)["error"]["status"] == 401
    elif route.path.startswith(("/spaces/", "/regulations", "/suppressions")):  # Segment's dialect says it its own way
        assert status == 401 and json.loads(body)["errors"][0]["type"] == "unauthorized"
    elif adobe:  # and Adobe's its own
        assert status == 401 and json.loads(body)["report"]["errorCode"] == "100920-401"
    else:
        assert (status, body) == (403, b'{"message": "Forbidden"}')


def _table_models() -> list[type[Model]]:
    return [
        value
        for value in vars(models).values()
        if isinstance(value, type) and issubclass(value, Model) and hasattr(getattr(value, "Meta", None), "table_name")
    ]


def test_every_model_matches_a_template_table_and_every_table_has_a_model():
    tables = {PLAN.names[logical_id]: resource for logical_id, resource in PLAN.of_type("AWS::DynamoDB::Table").items()}
    used = set()
    for model in _table_models():
        assert model.Meta.table_name in tables, f"{model.__name__} uses a table the template lacks"
        props = tables[model.Meta.table_name]["Properties"]
        types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
        keys = {k["KeyType"]: k["AttributeName"] for k in props["KeySchema"]}
        model_keys = {"HASH": model._hash_keyname, "RANGE": model._range_keyname}
        assert keys == {kind: name for kind, name in model_keys.items() if name}, model.__name__
        for name in keys.values():
            assert model.get_attributes()[name].attr_type == types[name], f"{model.__name__}.{name}"
        used.add(model.Meta.table_name)
    assert used == set(tables)


@pytest.mark.parametrize("resource", Settings.resources(), ids=lambda r: r.variable)
def test_every_setting_names_its_resource_to_the_functions_and_in_the_stack_outputs(resource):
    assert PLAN.environment(FUNCTIONS)[resource.variable] == PLAN.intrinsics.resolve({"Ref": resource.logical_id})
    assert TEMPLATE["Outputs"][resource.output]["Value"] == {"Ref": resource.logical_id}


def test_every_resource_the_functions_are_told_of_is_in_the_settings_table():
    """A resource variable outside the table would be missing from demo.env and the CLI's stack lookup."""
    resources = TEMPLATE["Resources"]
    named = {
        variable
        for function in FUNCTIONS
        for variable, value in function.environment.items()
        if isinstance(value, dict) and value.get("Ref") in resources
    }
    assert named == {resource.variable for resource in Settings.resources()}


def test_the_functions_are_told_how_many_attempts_the_imports_queue_makes():
    settings = Settings.from_env(PLAN.environment(FUNCTIONS))
    assert settings.import_attempts == TEMPLATE["Parameters"]["ImportAttempts"]["Default"]


def test_imports_bucket_notifies_the_imports_queue_consumed_by_the_imports_function():
    bucket = TEMPLATE["Resources"]["ImportsBucket"]["Properties"]
    [config] = bucket["NotificationConfiguration"]["QueueConfigurations"]
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config["Queue"] == {"Fn::GetAtt": ["ImportsQueue", "Arn"]}
    consumers = {f.logical_id: f.queues for f in FUNCTIONS if f.queues}
    assert consumers == {
        "ImportsFunction": [("ImportsQueue", 1)],
        "ImportsGiveUpFunction": [("ImportsDeadLetterQueue", 10)],
        "ApplyFunction": [("ApplyQueue", 1)],
        "ApplyGiveUpFunction": [("ApplyDeadLetterQueue", 10)],
        "PrivacyFunction": [("PrivacyQueue", 1)],
        "PrivacyGiveUpFunction": [("PrivacyDeadLetterQueue", 10)],
    }
    for function in consumers:
        sources = TEMPLATE["Resources"][function]["Properties"]["Events"].values()
        [source] = [source for source in sources if source["Type"] == "SQS"]
        assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    for queue in ("ImportsQueue", "ApplyQueue"):
        redrive = TEMPLATE["Resources"][queue]["Properties"]["RedrivePolicy"]
        assert redrive == {
            "deadLetterTargetArn": {"Fn::GetAtt": [queue.replace("Queue", "DeadLetterQueue"), "Arn"]},
            "maxReceiveCount": {"Ref": "ImportAttempts"},  # the number the give-up message states
        }


def test_only_the_imports_and_privacy_functions_carry_the_engine_and_the_apply_pressure_is_bounded():
    """The engine's 167 MB only where Parquet is read: the imports function, and the privacy job's rewrites."""
    carriers = {f.logical_id for f in FUNCTIONS if TEMPLATE["Resources"][f.logical_id]["Properties"].get("Layers")}
    assert carriers == {"ImportsFunction", "PrivacyFunction"}
    engine = (template.ROOT / "layers/engine/requirements.txt").read_text()
    assert "polars==" in engine
    apply = TEMPLATE["Resources"]["ApplyFunction"]["Properties"]
    assert (
        apply["ReservedConcurrentExecutions"]
        == apply["Events"]["Chunks"]["Properties"]["ScalingConfig"]["MaximumConcurrency"]
    )
    assert provision.STACK_ID.rsplit("/", 1)[1] in PLAN.names["ImportsBucket"]


def test_the_api_functions_restore_from_snapshots_and_none_that_snapstart_refuses_does():
    snapshotted = {
        function.logical_id
        for function in FUNCTIONS
        if TEMPLATE["Resources"][function.logical_id]["Properties"].get("SnapStart") == {"ApplyOn": "PublishedVersions"}
    }
    assert snapshotted == {"IngestFunction", "TrackingFunction", "SegmentsFunction", "GraphqlFunction"}
    for logical_id in snapshotted:
        props = TEMPLATE["Resources"][logical_id]["Properties"]
        assert props["AutoPublishAlias"]  # SnapStart applies to published versions only
        assert props.get("EphemeralStorage", {"Size": 512})["Size"] <= 512  # SnapStart's limit
        app = (template.ROOT / props["CodeUri"] / "app.py").read_text()
        assert "from audiences import" in app and "snapstart" in app  # its restore hook is registered


def test_the_privacy_key_rotates_outlives_the_stack_and_is_granted_through_iam_policies_only():
    """Deleting the key would leave every tenant's secret, and so every mark and sealed request, unreadable."""
    key = TEMPLATE["Resources"]["PrivacyKey"]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    props = key["Properties"]
    assert props["EnableKeyRotation"] is True and props.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
    [statement] = PLAN.intrinsics.resolve(props["KeyPolicy"])["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{provision.ACCOUNT_ID}:root"}  # the account's IAM
    assert (statement["Effect"], statement["Action"], statement["Resource"]) == ("Allow", "kms:*", "*")
    alias = TEMPLATE["Resources"]["PrivacyKeyAlias"]
    assert alias["Type"] == "AWS::KMS::Alias" and alias["Properties"]["TargetKeyId"] == {"Ref": "PrivacyKey"}
    assert PLAN.environment(FUNCTIONS)["PRIVACY_KEY_ID"] == PLAN.names["PrivacyKeyAlias"]


def test_every_table_holding_items_that_expire_has_its_ttl_on_their_attribute():
    """A privacy request is forgotten after the vendor's window: by the tenants table's TTL, not only hidden."""
    by_name = {
        PLAN.names[logical_id]: resource for logical_id, resource in PLAN.of_type("AWS::DynamoDB::Table").items()
    }
    expiring = {model.Meta.table_name for model in _table_models() if "expires_at" in model.get_attributes()}
    assert PLAN.names["TenantsTable"] in expiring
    for table in expiring:
        ttl = by_name[table]["Properties"].get("TimeToLiveSpecification")
        assert ttl == {"AttributeName": "expires_at", "Enabled": True}, table
