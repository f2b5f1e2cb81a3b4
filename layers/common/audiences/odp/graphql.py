"""ODP's GraphQL API on graphql-core: a per-tenant schema (one customer argument per identifier field).

`audiences.odp.graphql_api` answers the SDKs' fixed queries itself and hands every other here.
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import UTC, datetime
from functools import cached_property

from ariadne import ObjectType, QueryType, graphql_sync, make_executable_schema
from aws_lambda_powertools import Logger
from graphql import GraphQLError, GraphQLSchema, get_argument_values
from graphql.error import GraphQLSyntaxError
from graphql.language import (
    FieldNode,
)

from audiences import catalog, memberships
from audiences.cache import BoundedCache
from audiences.domain import Audience, State, Tenant, UserRef
from audiences.errors import NotFound
from audiences.odp.graphql_api import MAX_SUBSET, RESOLVER_FAILED, invalid_identifier_message
from audiences.odp.graphql_queries import PREPARED, PREPARED_SECONDS

logger = Logger(child=True)
# ariadne logs every error, expected answers (an unknown customer) included; `_classified`
# logs the real failures, so ariadne's own log is switched off.
_ariadne_log = logging.getLogger("audiences.odp.graphql.ariadne")
_ariadne_log.disabled = True

SCHEMAS_KEPT = 64  # schemas a container keeps, one per set of identifier fields
MAX_PAGE = 100
DEFAULT_PAGE = 20

_TYPES = """
"A customer of this tenant, as the audiences they are in."
type Customer {
  "The audiences this customer is qualified for, sorted by name; `subset` keeps only the named ones (at most 100)."
  audiences(subset: [String]): CustomerAudienceConnection!
}
type CustomerAudienceConnection { edges: [CustomerAudienceEdge!]! }
type CustomerAudienceEdge { node: CustomerAudience! }
type CustomerAudience {
  "The segment id."
  name: String!
  "Always \\"qualified\\": only audiences the customer is in are listed."
  state: String!
  description: String!
  "Always true: a passthrough audience is ready as soon as it exists."
  is_ready: Boolean!
  "Extra: the external audience id events name."
  external_id: String!
  "Extra: when the customer qualified, as the qualifying event's ts (ISO 8601)."
  qualified_at: String!
}
type AudienceConnection {
  edges: [AudienceEdge!]!
  pageInfo: PageInfo!
}
type AudienceEdge {
  node: Audience!
  cursor: String!
}
type PageInfo {
  hasNextPage: Boolean!
  endCursor: String
}
type Audience {
  "The segment id."
  name: String!
  revision: Int!
  description: String!
  is_ready: Boolean!
  "The exact number of qualified customers."
  size: Int!
  created_at: String
  updated_at: String
  "Extra: the external audience id events name."
  external_id: String!
}
"""


def sdl(identifier_fields: tuple[str, ...]) -> str:
    arguments = ", ".join(f"{field}: String" for field in identifier_fields)
    return (
        "type Query {\n"
        '  "The customer named by exactly one identifier; null, with an error, if we know nothing of them."\n'
        f"  customer{f'({arguments})' if arguments else ''}: Customer\n"
        '  "The tenant\'s audiences by segment id, in pages of `first` (at most 100) after the cursor `after`."\n'
        f"  audiences(first: Int = {DEFAULT_PAGE}, after: String): AudienceConnection!\n"
        '  "One audience by segment id, or null."\n'
        "  audience(name: String!): Audience\n"
        "}\n" + _TYPES
    )


def _error(message: str, classification: str, **extensions: str) -> GraphQLError:
    return GraphQLError(message, extensions={"classification": classification, **extensions})


class InvalidIdentifier(GraphQLError):
    """ODP's answer for a customer it has no record of; the SDKs match on its code."""

    def __init__(self, field: str) -> None:
        super().__init__(
            invalid_identifier_message(field),
            extensions={"classification": "DataFetchingException", "code": "INVALID_IDENTIFIER_EXCEPTION"},
        )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _customer(_, info, **arguments: str | None) -> list[memberships.Qualification]:
    given = {field: value for field, value in arguments.items() if value is not None}
    if len(given) != 1:
        raise _error(f"customer takes exactly one identifier argument, got {len(given)}", "ValidationError")
    [(field, value)] = given.items()
    keys = _subset_keys(info)
    qualifications = memberships.customer_audiences(info.context["tenant_id"], UserRef(field, value), keys=keys)
    if qualifications is None:
        raise InvalidIdentifier(field)
    return qualifications


def _subset_keys(info) -> set[str] | None:
    """Every audience key the `audiences(subset: …)` fields under this customer name, so that only
    those memberships are read; None (read them all) if one names no subset, or a fragment hides
    what is selected. Each field still keeps only its own subset."""
    definition = info.schema.get_type("Customer").fields["audiences"]
    keys: set[str] = set()
    for node in info.field_nodes:
        for selection in node.selection_set.selections if node.selection_set else ():
            if not isinstance(selection, FieldNode):
                return None
            if selection.name.value != "audiences":
                continue
            subset = get_argument_values(definition, selection, info.variable_values).get("subset")
            if subset is None:
                return None
            keys.update(key for key in subset if isinstance(key, str))
    return keys if len(keys) <= MAX_SUBSET else None


def _customer_audiences(qualifications: list[memberships.Qualification], _, subset: list[str] | None = None) -> dict:
    if subset is not None:
        if len(subset) > MAX_SUBSET:
            raise _error(f"subset names at most {MAX_SUBSET} audiences, got {len(subset)}", "ValidationError")
        wanted = set(subset)
        qualifications = [q for q in qualifications if q.audience.key in wanted]
    return {"edges": [{"node": _customer_node(q)} for q in sorted(qualifications, key=lambda q: q.audience.key)]}


def _customer_node(qualification: memberships.Qualification) -> dict:
    audience = qualification.audience
    return {
        "name": audience.key,
        "state": State.QUALIFIED.value,
        "description": audience.description,
        "is_ready": True,
        "external_id": audience.external_id,
        "qualified_at": datetime.fromtimestamp(qualification.ts, UTC).isoformat(),
    }


class _PageSizes:
    """Sizes of a page of audiences, read together and only if a query asks for one."""

    def __init__(self, tenant_id: str, audiences: list[Audience]) -> None:
        self.tenant_id, self.audiences = tenant_id, audiences

    @cached_property
    def by_external_id(self) -> dict[str, int]:
        return memberships.audience_sizes(self.tenant_id, [audience.external_id for audience in self.audiences])


def _audience_node(audience: Audience, sizes: _PageSizes) -> dict:
    return {
        "name": audience.key,
        "revision": audience.revision,
        "description": audience.description,
        "is_ready": True,
        "size": lambda *_: sizes.by_external_id[audience.external_id],
        "created_at": _iso(audience.created_at),
        "updated_at": _iso(audience.updated_at),
        "external_id": audience.external_id,
    }


def _cursor(key: str) -> str:
    return base64.urlsafe_b64encode(f"audience:{key}".encode()).decode()


def _after(cursor: str) -> str:
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not decoded.startswith("audience:"):
        raise _error("after is not a cursor this API returned", "ValidationError")
    return decoded.removeprefix("audience:")


def _audiences(_, info, first: int = DEFAULT_PAGE, after: str | None = None) -> dict:
    if not 0 <= first <= MAX_PAGE:
        raise _error(f"first must be 0 to {MAX_PAGE}, got {first}", "ValidationError")
    tenant_id = info.context["tenant_id"]
    start = catalog.key_position(_after(after)) if after is not None else None
    page = catalog.page(tenant_id, catalog.Order.KEY, first, start, enabled_only=True)
    sizes = _PageSizes(tenant_id, page.audiences)
    return {
        "edges": [
            {"node": _audience_node(audience, sizes), "cursor": _cursor(audience.key)} for audience in page.audiences
        ],
        "pageInfo": {
            "hasNextPage": page.more,
            "endCursor": _cursor(page.audiences[-1].key) if page.audiences else None,
        },
    }


def _audience(_, info, name: str) -> dict | None:
    tenant_id = info.context["tenant_id"]
    try:
        audience = catalog.get_audience(tenant_id, name)
    except NotFound:
        return None
    return _audience_node(audience, _PageSizes(tenant_id, [audience])) if audience.enabled else None


_schemas: BoundedCache[GraphQLSchema] = BoundedCache(SCHEMAS_KEPT, lambda: PREPARED_SECONDS)


def schema_for(identifier_fields: tuple[str, ...]) -> GraphQLSchema:
    """The schema of every tenant with these identifier fields: built once per field set."""
    return _schemas.get_or_load(identifier_fields, lambda: _schema(identifier_fields))


def _schema(identifier_fields: tuple[str, ...]) -> GraphQLSchema:
    query = QueryType()
    query.set_field("customer", _customer)
    query.set_field("audiences", _audiences)
    query.set_field("audience", _audience)
    customer = ObjectType("Customer")
    customer.set_field("audiences", _customer_audiences)
    audience = ObjectType("Audience")
    audience.set_field("size", lambda node, info: node["size"]())
    return make_executable_schema(sdl(identifier_fields), query, customer, audience)


def _classified(error: GraphQLError, debug: bool = False) -> dict:
    formatted = error.formatted
    unexpected = error.original_error is not None and not isinstance(error.original_error, GraphQLError)
    if unexpected:  # a failure of ours, not of the query: log it, tell the client only to retry
        logger.error("resolver failed", exc_info=error.original_error)
        formatted["message"] = RESOLVER_FAILED
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


def run(request: dict, tenant: Tenant) -> dict:
    """Run one GraphQL request (a JSON object with a "query" string) for `tenant`; GraphQL errors are
    part of the result, as the spec says."""
    _, result = graphql_sync(
        schema_for(tuple(sorted(tenant.identifiers))),
        request,
        context_value={"tenant_id": tenant.tenant_id},
        error_formatter=_classified,
        logger=_ariadne_log.name,
        query_parser=PREPARED.parse,
        query_validator=PREPARED.validate,
        introspection=True,
    )
    return result


if __name__ == "__main__":  # python -m audiences.odp.graphql [identifier fields…]: the SDL docs/api.md shows
    import sys

    print(sdl(tuple(sorted(sys.argv[1:])) or ("email", "fs_user_id", "vuid")), end="")
