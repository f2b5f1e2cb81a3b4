from __future__ import annotations

import hashlib

from audiences.auth import generate_key, hash_key
from audiences.domain import Scope


def test_keys_are_random_prefixed_by_scope_and_stored_as_sha256():
    public, private = generate_key(Scope.PUBLIC), generate_key(Scope.PRIVATE)
    assert public.startswith("pa_pub_") and private.startswith("pa_prv_")
    assert len(public) > 40 and generate_key(Scope.PUBLIC) != public
    assert hash_key(public) == hashlib.sha256(public.encode()).hexdigest()
    assert public not in hash_key(public)


def test_private_scope_allows_everything_public_only_public():
    assert Scope.PRIVATE.allows(Scope.PUBLIC) and Scope.PRIVATE.allows(Scope.PRIVATE)
    assert Scope.PUBLIC.allows(Scope.PUBLIC) and not Scope.PUBLIC.allows(Scope.PRIVATE)
