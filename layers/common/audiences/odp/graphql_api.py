"""POST /v3/graphql's entry: the queries Optimizely's SDKs send, answered at once; any other by graphql-core.

Every SDK asks one of two fixed queries, the customer's audiences by one identifier, with or
without a subset. Recognised by their text (whitespace aside), with variables of the declared
types, they are answered here exactly as graphql-core answers them (tests hold the two equal),
so a container that serves only SDKs never imports graphql-core and ariadne: 0.15 s of a cold
start. Anything else, or anything unusual in them, goes to `audiences.odp.graphql`.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from audiences import memberships
from audiences.domain import State, Tenant, UserRef
from audiences.errors import InvalidInput
from audiences.json_bodies import decode_json

if TYPE_CHECKING:
    from audiences.memberships import Qualification

logger = Logger(child=True)
MAX_BODY_BYTES = 64 * 1024
MAX_SUBSET = 100
# The SDKs' query, whitespace collapsed: `customer(<identifier field>: $userId)`, with `$audiences` declared
# and passed as the subset, or neither.
_SDK_QUERY = re.compile(
    r"query ?\( ?\$userId ?: ?String(?P<declared> ?, ?\$audiences ?: ?\[ ?String ?\])? ?\) ?"
    r"\{ ?customer ?\( ?(?P<field>[_A-Za-z][_0-9A-Za-z]*) ?: ?\$userId ?\) ?"
    r"\{ ?audiences ?(?P<subset>\( ?subset ?: ?\$audiences ?\) ?)?"
    r"\{ ?edges ?\{ ?node ?\{ ?name ?,? ?state ?\} ?\} ?\} ?\} ?\}"
)
_CUSTOMER = re.compile(r"\bcustomer\b")
_WHITESPACE = re.compile(r"[ \t\n\r]+")


def invalid_identifier_message(field: str) -> str:
    return f"could not resolve customer by {field}: no audience membership is recorded for it"


RESOLVER_FAILED = "internal error while fetching data: retrying the same query is safe"


def execute(body: str | None, tenant: Tenant) -> dict:
    """Run one GraphQL request for `tenant`; GraphQL errors are part of the result, as the spec says."""
    request = decode_json(body)
    if not isinstance(request, dict) or not isinstance(request.get("query"), str):
        raise InvalidInput('the body must be a JSON object with a "query" string')
    if (answer := sdk_answer(request, tenant)) is not None:
        return answer
    from audiences.odp import graphql  # graphql-core and ariadne, for the queries the SDKs do not send

    return graphql.run(request, tenant)


def sdk_answer(request: dict, tenant: Tenant) -> dict | None:
    """The answer to one of the SDKs' queries, or None if the request is not one of them exactly."""
    text = request["query"]
    variables = request.get("variables") or {}
    if set(request) - {"query", "variables", "operationName"} or request.get("operationName") is not None:
        return None
    if len(text) > 1024 or "\r" in text or not isinstance(variables, dict):
        return None  # (a carriage return would count as a line break in the error's location)
    shape = _SDK_QUERY.fullmatch(_WHITESPACE.sub(" ", text).strip())
    if shape is None or bool(shape["declared"]) != bool(shape["subset"]) or shape["field"] not in tenant.identifiers:
        return None
    if set(variables) - {"userId", *(["audiences"] if shape["declared"] else [])}:
        return None
    user, subset = variables.get("userId"), variables.get("audiences")
    if not isinstance(user, str) or not (subset is None or _strings(subset)):
        return None  # null and coerced values, and their errors, are graphql-core's to make
    wanted = None if subset is None else set(subset)
    try:
        found = memberships.customer_audiences(tenant.tenant_id, UserRef(shape["field"], user), keys=wanted)
    except Exception:  # as graphql-core reports a resolver's failure: in the result
        logger.exception("resolver failed")
        return _customer_error(text, RESOLVER_FAILED, {"classification": "DataFetchingException"})
    if found is None:
        extensions = {"classification": "DataFetchingException", "code": "INVALID_IDENTIFIER_EXCEPTION"}
        return _customer_error(text, invalid_identifier_message(shape["field"]), extensions)
    if wanted is not None:
        found = [qualification for qualification in found if qualification.audience.key in wanted]
    return {"data": {"customer": {"audiences": {"edges": _edges(found)}}}}


def _strings(subset: object) -> bool:
    return isinstance(subset, list) and len(subset) <= MAX_SUBSET and all(isinstance(key, str) for key in subset)


def _edges(found: list[Qualification]) -> list[dict]:
    by_key = sorted(found, key=lambda qualification: qualification.audience.key)
    return [{"node": {"name": q.audience.key, "state": State.QUALIFIED.value}} for q in by_key]


def _customer_error(text: str, message: str, extensions: dict) -> dict:
    """graphql-core's error at the customer field: its line and column in the text as sent."""
    at = _CUSTOMER.search(text, text.index("{")).start()
    line, column = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
    located = {"message": message, "locations": [{"line": line, "column": column}], "path": ["customer"]}
    return {"data": {"customer": None}, "errors": [located | {"extensions": extensions}]}


@cache
def explorer_html() -> str:
    """The GraphiQL page, rendered once, by the first request for it."""
    from ariadne.explorer import ExplorerGraphiQL

    return ExplorerGraphiQL(
        title="Passthrough Audiences GraphQL",
        default_query='# Add your key as a header: {"x-api-key": "..."}\n'
        "query {\n  audiences(first: 5) {\n    edges { node { name size } }\n  }\n}\n",
    ).html(None)
