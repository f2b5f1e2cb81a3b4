"""Segment's Public API audiences dialect: request parsing, response shapes, error wording."""
