"""GraphQL documents are parsed, limit-checked and validated once per container and query text."""

from __future__ import annotations

import pytest
from graphql import GraphQLError
from graphql.validation import specified_rules

from audiences.odp.graphql import schema_for
from audiences.odp.graphql_queries import PreparedQueries

CUSTOMER = "query($e: String) {customer(email: $e) {audiences {edges {node {name}}}}}"


def prepare(queries: PreparedQueries, text: str, fields=("email", "fs_user_id")):
    schema = schema_for(fields)
    document = queries.parse(None, {"query": text})
    return document, queries.validate(schema, document, rules=specified_rules)


def test_a_repeated_query_reuses_its_document_and_its_validation():
    queries = PreparedQueries()
    document, errors = prepare(queries, CUSTOMER)
    again, errors_again = prepare(queries, CUSTOMER)
    assert again is document and errors_again is errors and errors == []


def test_validation_is_kept_per_schema():
    queries = PreparedQueries()
    _, with_email = prepare(queries, CUSTOMER)
    _, without_email = prepare(queries, CUSTOMER, fields=("fs_user_id",))
    assert with_email == [] and "Unknown argument 'email'" in without_email[0].message


def test_refused_queries_are_not_kept_and_the_cache_is_bounded():
    queries = PreparedQueries(size=2)
    with pytest.raises(GraphQLError):
        queries.parse(None, {"query": "{ customer("})
    first, _ = prepare(queries, "{audiences {edges {cursor}}}")
    prepare(queries, '{audience(name: "a") {name}}')
    prepare(queries, CUSTOMER)  # the least recently used, the first, is dropped
    assert prepare(queries, "{audiences {edges {cursor}}}")[0] is not first
    assert len(queries) == 2


def test_a_kept_document_is_parsed_again_once_it_is_older_than_its_age():
    now = [0.0]
    queries = PreparedQueries(max_age_seconds=3600, clock=lambda: now[0])
    first, errors = prepare(queries, CUSTOMER)
    now[0] = 3599.0
    assert prepare(queries, CUSTOMER)[0] is first
    now[0] = 3601.0
    again, errors_again = prepare(queries, CUSTOMER)
    assert again is not first and errors_again == errors == [] and len(queries) == 1
