"""What one GraphQL query may cost, checked before graphql-core validates it, and the documents a container
keeps parsed, checked and validated (an SDK sends the same few queries)."""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakValueDictionary

from graphql import GraphQLError, GraphQLSchema, parse, validate
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
)

from audiences.cache import BoundedCache

MAX_QUERY_CHARS = 16 * 1024  # the Optimizely SDKs' queries are a few hundred
MAX_TOKENS = 2_000
PREPARED_QUERIES = 256  # documents a container keeps parsed and validated
PREPARED_SECONDS = 60 * 60  # and for how long at most
MAX_FRAGMENTS = 20
MAX_DEPTH = 10
MAX_FIELDS = 200  # every field counts, aliases included: a query cannot multiply work by aliasing


def _error(message: str, classification: str, **extensions: str) -> GraphQLError:
    return GraphQLError(message, extensions={"classification": classification, **extensions})


class _OverLimit(Exception):
    pass


@dataclass(frozen=True)
class QueryLimits:
    """What one query document may ask for, measured in one pass over the document.

    Each fragment is measured once, however often it is spread, and counting stops as soon
    as a limit is passed, so a query built to multiply work (fragments spreading fragments,
    aliases) is refused in time proportional to its text. Introspection fields are free.
    """

    max_depth: int = MAX_DEPTH
    max_fields: int = MAX_FIELDS
    max_fragments: int = MAX_FRAGMENTS

    def check(self, document: DocumentNode) -> None:
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        if len(fragments) > self.max_fragments:
            raise _error(
                f"the query defines {len(fragments)} fragments; at most {self.max_fragments} are allowed",
                "ValidationError",
            )
        measured: dict[str, tuple[int, int]] = {}
        try:
            for definition in document.definitions:
                if isinstance(definition, OperationDefinitionNode):
                    self._measure(definition.selection_set, 1, fragments, measured, set())
        except _OverLimit as over:
            raise _error(str(over), "ValidationError") from None

    def _measure(self, selection_set, level, fragments, measured, open_fragments) -> tuple[int, int]:
        """(levels below `level` - 1 reached, fields selected) of one selection set, fragments followed."""
        if level > self.max_depth:
            raise _OverLimit(f"the query is nested more than {self.max_depth} levels deep; at most that is allowed")
        depth, fields = level - 1, 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__"):
                    continue
                inner = (
                    self._measure(selection.selection_set, level + 1, fragments, measured, open_fragments)
                    if selection.selection_set
                    else (level, 0)
                )
                depth, fields = max(depth, inner[0]), fields + 1 + inner[1]
            elif isinstance(selection, InlineFragmentNode):
                inner = self._measure(selection.selection_set, level, fragments, measured, open_fragments)
                depth, fields = max(depth, inner[0]), fields + inner[1]
            elif isinstance(selection, FragmentSpreadNode):
                inner = self._fragment(selection.name.value, level, fragments, measured, open_fragments)
                depth, fields = max(depth, inner[0]), fields + inner[1]
            if fields > self.max_fields:
                raise _OverLimit(
                    f"the query selects more than {self.max_fields} fields (aliases and fragment spreads "
                    "count each time); at most that many are allowed"
                )
        return depth, fields

    def _fragment(self, name, level, fragments, measured, open_fragments) -> tuple[int, int]:
        """A fragment's size, measured once; its depth is relative, so it is kept from level 1."""
        if name in open_fragments or name not in fragments:
            return level - 1, 0  # a cycle or an unknown fragment: validation reports it
        if name not in measured:
            open_fragments.add(name)
            measured[name] = self._measure(fragments[name].selection_set, 1, fragments, measured, open_fragments)
            open_fragments.discard(name)
        relative_depth, fields = measured[name]
        if level - 1 + relative_depth > self.max_depth:
            raise _OverLimit(f"the query is nested more than {self.max_depth} levels deep; at most that is allowed")
        return level - 1 + relative_depth, fields


LIMITS = QueryLimits()


@dataclass
class _Prepared:
    document: DocumentNode
    validations: dict[GraphQLSchema, list[GraphQLError]]  # by schema: a tenant's follows its identifier fields


class PreparedQueries:
    """Parsed, limit-checked and validated documents of this container, by query text (at most `size`,
    the least recently used dropped first, none older than `max_age_seconds`): an SDK sends the same
    few queries, so a repeat skips all three.

    A refused query (syntax, limits) is not kept; validation is kept per schema.
    """

    def __init__(self, size: int = PREPARED_QUERIES, max_age_seconds: float = PREPARED_SECONDS, clock=None) -> None:
        extra = {"clock": clock} if clock else {}
        self._prepared: BoundedCache[_Prepared] = BoundedCache(size, lambda: max_age_seconds, **extra)
        # The kept documents by id, for validate(): an entry goes when the cache drops its document.
        self._by_document: WeakValueDictionary[int, _Prepared] = WeakValueDictionary()

    def __len__(self) -> int:
        return len(self._prepared)

    def parse(self, _, request: dict) -> DocumentNode:
        """The query's document, refused cheaply (size, tokens, then the limits) before validation runs."""
        text = request["query"]
        if (prepared := self._prepared.get(text)) is not None:
            return prepared.document
        document = parse(text, max_source_length=MAX_QUERY_CHARS, max_tokens=MAX_TOKENS, no_location=False)
        LIMITS.check(document)
        prepared = _Prepared(document, {})
        self._prepared.put(text, prepared)
        self._by_document[id(document)] = prepared
        return document

    def validate(self, schema: GraphQLSchema, document: DocumentNode, rules=None, max_errors=None, **kwargs):
        prepared = self._by_document.get(id(document))
        if prepared is None or prepared.document is not document:  # not a kept document: validate, keep nothing
            return validate(schema, document, rules=rules, max_errors=max_errors, **kwargs)
        if schema not in prepared.validations:
            prepared.validations[schema] = validate(schema, document, rules=rules, max_errors=max_errors, **kwargs)
        return prepared.validations[schema]


PREPARED = PreparedQueries()
