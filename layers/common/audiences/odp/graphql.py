"""ODP's GraphQL API: a per-tenant schema (one customer argument per identifier field)."""

from __future__ import annotations

import logging
from functools import lru_cache

from ariadne import ObjectType, QueryType, graphql_sync, make_executable_schema
from aws_lambda_powertools import Logger
from graphql import GraphQLError, GraphQLSchema
from graphql.error import GraphQLSyntaxError

from audiences import memberships
from audiences.domain import Audience, State, Tenant, UserRef
from audiences.errors import InvalidInput
from audiences.odp.body import decode_json

logger = Logger(child=True)
# ariadne logs every error, expected answers (an unknown customer) included; `_classified`
# logs the real failures, so ariadne's own log is switched off.
_ariadne_log = logging.getLogger("audiences.odp.graphql.ariadne")
_ariadne_log.disabled = True

_TYPES = """
type Customer {
  "The audiences this customer is qualified for; `subset` keeps only the named ones."
  audiences(subset: [String]): CustomerAudienceConnection!
}
type CustomerAudienceConnection { edges: [CustomerAudienceEdge!]! }
type CustomerAudienceEdge { node: CustomerAudience! }
type CustomerAudience {
  "The segment id."
  name: String!
  state: String!
  description: String!
  is_ready: Boolean!
}
"""


def sdl(identifier_fields: tuple[str, ...]) -> str:
    arguments = ", ".join(f"{field}: String" for field in identifier_fields)
    return f"type Query {{\n  customer({arguments}): Customer\n}}\n{_TYPES}"


class InvalidIdentifier(GraphQLError):
    """ODP's answer for a customer it has no record of; the SDKs match on its code."""

    def __init__(self, field: str) -> None:
        super().__init__(
            f"could not resolve customer by {field}: no audience membership is recorded for it",
            extensions={"classification": "DataFetchingException", "code": "INVALID_IDENTIFIER_EXCEPTION"},
        )


def _customer(_, info, **arguments: str | None) -> dict:
    given = {field: value for field, value in arguments.items() if value is not None}
    if len(given) != 1:
        raise GraphQLError(
            f"customer takes exactly one identifier argument, got {len(given)}",
            extensions={"classification": "ValidationError"},
        )
    [(field, value)] = given.items()
    audiences = memberships.customer_audiences(info.context["tenant_id"], UserRef(field, value))
    if audiences is None:
        raise InvalidIdentifier(field)
    return {"audiences": audiences}


def _audiences(customer: dict, _, subset: list[str] | None = None) -> dict:
    audiences: list[Audience] = customer["audiences"]
    if subset is not None:
        wanted = set(subset)
        audiences = [audience for audience in audiences if audience.key in wanted]
    return {"edges": [{"node": _node(audience)} for audience in sorted(audiences, key=lambda a: a.key)]}


def _node(audience: Audience) -> dict:
    return {"name": audience.key, "state": State.QUALIFIED.value, "description": audience.description, "is_ready": True}


@lru_cache(maxsize=64)
def schema_for(identifier_fields: tuple[str, ...]) -> GraphQLSchema:
    query = QueryType()
    query.set_field("customer", _customer)
    customer = ObjectType("Customer")
    customer.set_field("audiences", _audiences)
    return make_executable_schema(sdl(identifier_fields), query, customer)


def _classified(error: GraphQLError, debug: bool = False) -> dict:
    formatted = error.formatted
    unexpected = error.original_error is not None and not isinstance(error.original_error, GraphQLError)
    if unexpected:  # a failure of ours, not of the query: log it, tell the client only to retry
        logger.error("resolver failed", exc_info=error.original_error)
        formatted["message"] = "internal error while fetching data: retrying the same query is safe"
    extensions = dict(formatted.get("extensions") or {})
    if "classification" not in extensions:
        if isinstance(error, GraphQLSyntaxError):
            extensions["classification"] = "InvalidSyntax"
        elif error.path is None:
            extensions["classification"] = "ValidationError"
        else:
            extensions["classification"] = "DataFetchingException"
    formatted["extensions"] = extensions
    return formatted


def execute(body: str | None, tenant: Tenant) -> dict:
    """Run one GraphQL request for `tenant`; GraphQL errors are part of the result, as the spec says."""
    request = decode_json(body)
    if not isinstance(request, dict) or not isinstance(request.get("query"), str):
        raise InvalidInput('the body must be a JSON object with a "query" string')
    _, result = graphql_sync(
        schema_for(tuple(sorted(tenant.identifiers))),
        request,
        context_value={"tenant_id": tenant.tenant_id},
        error_formatter=_classified,
        logger=_ariadne_log.name,
    )
    return result
