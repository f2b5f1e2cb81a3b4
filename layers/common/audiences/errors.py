"""Domain errors. Each dialect maps them to its own wire shape, and words them, in one module.

An error names what kind of thing it is about (`resource`), why (`reason`), and the values a
message needs (`facts`); `message` is a neutral wording for people (the CLI, logs). Dialects
word errors from the structure, so no dialect's vocabulary leaks into another's answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")


class Reason(StrEnum):
    """Why an error was raised, where a dialect words it by more than its class: a name, not a string a
    typo would silently miss."""

    NONE = ""
    NOT_FOUND = "not_found"
    KEY_TAKEN = "key_taken"
    EXTERNAL_ID_TAKEN = "external_id_taken"
    CLAIM_TAKEN = "claim_taken"
    IN_PROGRESS = "in_progress"
    NONE_SUCCEEDED = "none_succeeded"
    UNKNOWN = "unknown"
    MISSING = "missing"
    MISMATCH = "mismatch"
    EXCEEDED = "exceeded"


class AudiencesError(Exception):
    """Base of every error the API answers with a 4xx."""

    def __init__(
        self, message: str, resource: str = "", reason: Reason = Reason.NONE, facts: Mapping[str, str] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.resource = resource
        self.reason = reason
        self.facts = dict(facts or {})


class Forbidden(AudiencesError):
    """Missing, unknown or revoked key, or a key whose scope does not allow the call."""

    def __init__(self, message: str = "Forbidden") -> None:
        super().__init__(message)


def row_of(table: Mapping[type[AudiencesError], T], error: AudiencesError) -> T:
    """A dialect's row for `error`: that of its most specific class in the table (whose
    AudiencesError row makes it total)."""
    return next(table[cls] for cls in type(error).__mro__ if cls in table)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where (an index or a field path) and what."""

    where: int | str
    message: str


class InvalidInput(AudiencesError):
    """The request cannot be applied as sent; `problems` lists every reason found."""

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class PayloadTooLarge(AudiencesError):
    pass


class UnsupportedMediaType(AudiencesError):
    pass


class NotFound(AudiencesError):
    pass


class Conflict(AudiencesError):
    pass


class Unprocessable(AudiencesError):
    """Well-formed, but it names something this tenant lacks or asks what cannot be done now."""


class RateLimited(AudiencesError):
    """Over a per-tenant, per-endpoint limit: nothing was done. `usage` says how far over and until when."""

    def __init__(self, usage: object) -> None:
        super().__init__("too many requests", "rate limit", Reason.EXCEEDED)
        self.usage = usage


def audience_not_found(**facts: str) -> NotFound:
    """No audience of the tenant has this key or id (another tenant's is no different)."""
    [(field, value)] = facts.items()
    return NotFound(f"audience with {field} {value!r} does not exist", "audience", Reason.NOT_FOUND, facts)


def audience_key_taken(key: str) -> Conflict:
    return Conflict(f"an audience with key {key!r} already exists", "audience", Reason.KEY_TAKEN, {"key": key})


def external_id_taken(external_id: str, holder: str) -> Conflict:
    return Conflict(
        f"external id {external_id!r} is already used by audience {holder!r}",
        "audience",
        Reason.EXTERNAL_ID_TAKEN,
        {"external_id": external_id, "holder": holder},
    )


def claim_taken(claim: str) -> Conflict:
    """Another audience of the tenant holds this claim (see Audience.claims)."""
    return Conflict(f"{claim!r} is already held by another audience", "audience", Reason.CLAIM_TAKEN, {"claim": claim})


def space_not_found(space_id: str) -> NotFound:
    """No space of the caller's: another tenant's space answers exactly as a missing one."""
    return NotFound(f"space {space_id!r} does not exist", "space", Reason.NOT_FOUND, {"id": space_id})
