"""API keys: generated once, stored only as SHA-256 hashes, resolved to a tenant and scope.

Keys are 256 bits of randomness, so a plain SHA-256 is a safe lookup hash: there is no
dictionary to attack, and a slow hash would only slow every request.
"""

from __future__ import annotations

import hashlib
import secrets

from audiences.cache import BoundedCache
from audiences.domain import Principal, Scope, Tenant
from audiences.errors import Forbidden
from audiences.ports.tenants import key_id_of
from audiences.settings import get_settings
from audiences.wiring import stores

_KEY_PREFIX = {Scope.PUBLIC: "pa_pub_", Scope.PRIVATE: "pa_prv_"}

# Keys that exist, and keys that do not, are kept apart: a stream of random keys only ever
# evicts other random keys, so the keys in use stay cached however many unknown ones arrive.
KEYS_KEPT = 1_000
UNKNOWN_KEYS_KEPT = 1_000
TENANTS_KEPT = 1_000  # each with its identifier fields and identity map
_principals: BoundedCache[Principal] = BoundedCache(KEYS_KEPT, lambda: get_settings().auth_cache_seconds)
_unknown_keys: BoundedCache[bool] = BoundedCache(UNKNOWN_KEYS_KEPT, lambda: get_settings().auth_cache_seconds)
_tenants: BoundedCache[Tenant | None] = BoundedCache(TENANTS_KEPT, lambda: get_settings().auth_cache_seconds)


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def generate_key(scope: Scope) -> str:
    return _KEY_PREFIX[scope] + secrets.token_urlsafe(32)


def key_id(raw_key: str) -> str:
    """The id `keys list` shows for this key."""
    return key_id_of(hash_key(raw_key))


def issue_key(principal: Principal, raw_key: str | None = None) -> str:
    """Store a key for `principal` and return it: the only time it is ever visible."""
    raw_key = raw_key or generate_key(principal.scope)
    stores().tenants.put_key(hash_key(raw_key), principal)
    return raw_key


def authenticate(raw_key: str | None, required: Scope) -> Principal:
    """The principal behind `raw_key`, if it exists and its scope allows `required`."""
    if not raw_key:
        raise Forbidden()
    principal = _principal(hash_key(raw_key))
    if principal is None or not principal.scope.allows(required):
        raise Forbidden()
    return principal


def _principal(key_hash: str) -> Principal | None:
    if (principal := _principals.get(key_hash)) is not None or _unknown_keys.get(key_hash):
        return principal
    principal = stores().tenants.get_principal(key_hash)
    if principal is None:
        _unknown_keys.put(key_hash, True)
    else:
        _principals.put(key_hash, principal)
    return principal


def tenant_of(principal: Principal) -> Tenant:
    tenant = _tenants.get_or_load(principal.tenant_id, lambda: stores().tenants.get_tenant(principal.tenant_id))
    if tenant is None:  # a key whose tenant was removed is as good as no key
        raise Forbidden()
    return tenant
