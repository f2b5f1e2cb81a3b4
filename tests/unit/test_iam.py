"""The local stack's reading of IAM: which authorizations a call needs, and what a policy allows."""

from __future__ import annotations

import copy

import pytest

from local import iam, provision
from local.iam import Policy, Request, Statement
from local.template import Unsupported
from tests.conftest import FUNCTIONS, PLAN, TEMPLATE

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/"


def table(logical_id: str) -> str:
    return TABLE + PLAN.names[logical_id]


def test_a_transaction_is_authorized_item_by_item_on_each_items_table():
    needed = iam.requests(
        "dynamodb",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Update": {"TableName": "members", "Key": {}}},
                {"ConditionCheck": {"TableName": "catalog", "Key": {}}},
                {"Delete": {"TableName": "members", "Key": {}}},
            ]
        },
    )
    assert needed == [
        Request("dynamodb:UpdateItem", TABLE + "members"),
        Request("dynamodb:ConditionCheckItem", TABLE + "catalog"),
        Request("dynamodb:DeleteItem", TABLE + "members"),
    ]


def test_an_index_query_is_authorized_on_the_index_and_a_batch_on_every_table():
    assert iam.requests("dynamodb", "Query", {"TableName": "t", "IndexName": "ByCreation"}) == [
        Request("dynamodb:Query", TABLE + "t/index/ByCreation")
    ]
    batch = iam.requests("dynamodb", "BatchGetItem", {"RequestItems": {"a": {}, "b": {}}})
    assert batch == [Request("dynamodb:BatchGetItem", TABLE + "a"), Request("dynamodb:BatchGetItem", TABLE + "b")]


def test_s3_and_sqs_operations_need_the_actions_aws_documents_for_them():
    part = {"Bucket": "b", "Key": "t/sources/x.csv", "UploadId": "u", "PartNumber": 1}
    assert iam.requests("s3", "UploadPart", part) == [Request("s3:PutObject", "arn:aws:s3:::b/t/sources/x.csv")]
    assert iam.requests("s3", "HeadObject", {"Bucket": "b", "Key": "k"}) == [
        Request("s3:GetObject", "arn:aws:s3:::b/k")
    ]
    assert iam.requests("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "t/sources/"}) == [
        Request("s3:ListBucket", "arn:aws:s3:::b", (("s3:prefix", "t/sources/"),))
    ]
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/apply"
    assert iam.requests("sqs", "SendMessageBatch", {"QueueUrl": url, "Entries": []}) == [
        Request("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:apply")
    ]


def test_an_operation_it_cannot_map_is_refused_not_allowed():
    with pytest.raises(Unsupported, match=r"s3\.PutBucketPolicy"):
        iam.requests("s3", "PutBucketPolicy", {"Bucket": "b", "Policy": "{}"})


def test_wildcards_match_runs_of_characters_and_actions_ignore_case():
    sources = Statement("Allow", ("S3:putobject",), ("arn:aws:s3:::b/*/sources/*",))
    policy = Policy("F", (sources,))
    assert policy.allows(Request("s3:PutObject", "arn:aws:s3:::b/tenant/sources/run/part-1.csv"))
    assert not policy.allows(Request("s3:PutObject", "arn:aws:s3:::b/tenant/snapshots/x"))
    assert not policy.allows(Request("s3:GetObject", "arn:aws:s3:::b/tenant/sources/x"))
    assert not Policy("F", (Statement("Allow", ("s3:Get?bject",), ("arn:aws:s3:::b/[k]",)),)).allows(
        Request("s3:GetObject", "arn:aws:s3:::b/k")  # [ is a character in IAM, not a class
    )


def test_an_explicit_deny_wins_and_nothing_is_allowed_unless_a_statement_says_so():
    everything = Statement("Allow", ("dynamodb:*",), ("*",))
    no_deletes = Statement("Deny", ("dynamodb:DeleteItem",), (TABLE + "*",))
    assert not Policy("F", (everything, no_deletes)).allows(Request("dynamodb:DeleteItem", TABLE + "t"))
    assert Policy("F", (everything, no_deletes)).allows(Request("dynamodb:PutItem", TABLE + "t"))
    assert not Policy("F").allows(Request("dynamodb:GetItem", TABLE + "t"))


def test_a_condition_holds_only_for_a_request_that_has_its_key_and_matches():
    listing = Statement(
        "Allow", ("s3:ListBucket",), ("arn:aws:s3:::b",), (("StringLike", "s3:prefix", ("*/sources/*",)),)
    )
    policy = Policy("F", (listing,))
    assert policy.allows(Request("s3:ListBucket", "arn:aws:s3:::b", (("s3:prefix", "t/sources/run/"),)))
    assert not policy.allows(Request("s3:ListBucket", "arn:aws:s3:::b", (("s3:prefix", "t/snapshots/"),)))
    assert not policy.allows(Request("s3:ListBucket", "arn:aws:s3:::b"))


def test_every_function_gets_its_template_policy_and_an_sqs_source_its_poller_rights():
    policies = iam.policies(PLAN)
    assert set(policies) == {function.logical_id for function in FUNCTIONS}
    ingest, apply = policies["IngestFunction"], policies["ApplyFunction"]
    assert ingest.allows(Request("dynamodb:UpdateItem", table("MembershipsTable")))
    assert not ingest.allows(Request("dynamodb:DeleteItem", table("MembershipsTable")))
    assert not ingest.allows(Request("dynamodb:UpdateItem", table("CatalogTable")))
    queue = f"arn:aws:sqs:us-east-1:123456789012:{PLAN.names['ApplyQueue']}"
    assert apply.allows(Request("sqs:ReceiveMessage", queue)) and apply.allows(Request("sqs:DeleteMessage", queue))
    assert not ingest.allows(Request("sqs:ReceiveMessage", queue))


def with_policy(function: str, policy) -> dict:
    template = copy.deepcopy(TEMPLATE)
    template["Resources"][function]["Properties"]["Policies"] = [policy]
    return template


@pytest.mark.parametrize(
    "policy, words",
    [
        ("AmazonDynamoDBFullAccess", "inline Statement policies only"),
        ({"DynamoDBCrudPolicy": {"TableName": "t"}}, "inline Statement policies only"),
        ({"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}, "NotAction"),
        (
            {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"IpAddress": {}}}]},
            "conditions",
        ),
    ],
)
def test_a_policy_it_cannot_enforce_is_refused(policy, words):
    with pytest.raises(Unsupported, match=words):
        iam.policies(provision.plan(with_policy("IngestFunction", policy)))


def test_a_policy_document_may_carry_its_version_and_a_single_statement():
    document = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"},
    }
    policy = iam.policies(provision.plan(with_policy("IngestFunction", document)))["IngestFunction"]
    assert policy.allows(Request("dynamodb:GetItem", table("CatalogTable")))
    assert not policy.allows(Request("dynamodb:UpdateItem", table("MembershipsTable")))


def key_arn() -> str:
    return iam.key_aliases(PLAN)[PLAN.names["PrivacyKeyAlias"]]


def test_a_kms_call_is_authorized_on_the_key_its_alias_names_with_its_encryption_context():
    call = {"KeyId": PLAN.names["PrivacyKeyAlias"], "CiphertextBlob": b"", "EncryptionContext": {"tenant": "t"}}
    assert key_arn().startswith("arn:aws:kms:us-east-1:123456789012:key/")
    assert iam.requests("kms", "Decrypt", call, iam.key_aliases(PLAN)) == [
        Request("kms:Decrypt", key_arn(), (("kms:EncryptionContext:tenant", "t"),))
    ]
    with pytest.raises(Unsupported, match="KeyId"):  # the key a ciphertext names is not read locally
        iam.requests("kms", "Decrypt", {"CiphertextBlob": b""}, iam.key_aliases(PLAN))
    with pytest.raises(Unsupported, match="alias/other"):
        iam.requests("kms", "Decrypt", call | {"KeyId": "alias/other"}, iam.key_aliases(PLAN))


# Every function that reads a tenant's privacy secret: what screens (events, calls, files, runs, expiry), the
# privacy APIs and job, and the console's customer lookup (it lists the requests naming the customer).
SECRET_READERS = {
    "IngestFunction",
    "TrackingFunction",
    "ImportsFunction",
    "ApplyFunction",
    "ExpirySweepFunction",
    "PrivacyRequestsFunction",
    "PrivacyFunction",
    "ConsoleFunction",
}


def test_only_the_functions_that_read_the_privacy_secret_may_unwrap_it_and_only_the_privacy_api_make_one():
    policies = iam.policies(PLAN)
    tenant = (("kms:EncryptionContext:tenant", "t"),)

    def allowed(action: str, resource: str = key_arn(), context=tenant) -> set[str]:
        return {name for name, policy in policies.items() if policy.allows(Request(action, resource, context))}

    assert allowed("kms:Decrypt") == SECRET_READERS
    assert allowed("kms:GenerateDataKey") == {"PrivacyRequestsFunction"}  # a tenant's first privacy request
    assert allowed("kms:Decrypt", context=()) == set()  # only with a tenant's encryption context
    assert allowed("kms:Decrypt", resource=key_arn().replace("PrivacyKey", "OtherKey")) == set()
    assert allowed("kms:Encrypt") == allowed("kms:ReEncryptFrom") == allowed("kms:CreateGrant") == set()
