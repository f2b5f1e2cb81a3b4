"""Domain errors. Each dialect maps them to its own wire shape in exactly one module."""

from __future__ import annotations

from dataclasses import dataclass


class AudiencesError(Exception):
    """Base of every error the API answers with a 4xx."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Forbidden(AudiencesError):
    """Missing, unknown or revoked key, or a key whose scope does not allow the call."""

    def __init__(self, message: str = "Forbidden") -> None:
        super().__init__(message)


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
