"""What a tenant's privacy requests name of people (their subjects, what a dialect keeps of them), sealed
under the tenant's secret (which its store makes and keeps wrapped: audiences.stores.privacy).

Sealing is encrypt-then-MAC from the standard library's HMAC-SHA256 alone: a keystream of HMAC blocks over a
random nonce and a counter (HMAC as a pseudo-random function in counter mode), then an HMAC tag over the nonce
and the ciphertext, with separate keys derived from the tenant's secret. Why not AES-GCM from `cryptography`:
its aarch64 build needs a `cffi` wheel the package registries these stacks build from do not hold, and the
functions run on arm64 (docs/architecture.md, "Privacy").
"""

from __future__ import annotations

import hmac
import json
import secrets

from audiences.ports.privacy import Subject

_NONCE_BYTES = 16
_TAG_BYTES = 32
_BLOCK_BYTES = 32  # one HMAC-SHA256 output


class SealBroken(ValueError):
    """The sealed bytes were not sealed under this key, or were changed since."""


def _key(secret: bytes, purpose: str) -> bytes:
    return hmac.digest(secret, f"passthrough-audiences/{purpose}".encode(), "sha256")


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + _BLOCK_BYTES - 1) // _BLOCK_BYTES
    return b"".join(hmac.digest(key, nonce + n.to_bytes(8, "big"), "sha256") for n in range(blocks))[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def seal_json(secret: bytes, value: object) -> bytes:
    plain = json.dumps(value, ensure_ascii=False).encode()
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = nonce + _xor(plain, _keystream(_key(secret, "seal"), nonce, len(plain)))
    return sealed + hmac.digest(_key(secret, "tag"), sealed, "sha256")


def unseal_json(secret: bytes, sealed: bytes) -> object:
    body, tag = sealed[:-_TAG_BYTES], sealed[-_TAG_BYTES:]
    if len(body) < _NONCE_BYTES or not hmac.compare_digest(tag, hmac.digest(_key(secret, "tag"), body, "sha256")):
        raise SealBroken("the value was not sealed under this tenant's key")
    nonce, cipher = body[:_NONCE_BYTES], body[_NONCE_BYTES:]
    return json.loads(_xor(cipher, _keystream(_key(secret, "seal"), nonce, len(cipher))))


def seal(secret: bytes, subjects: list[Subject]) -> bytes:
    return seal_json(secret, [[s.field, s.value] for s in subjects])


def unseal(secret: bytes, sealed: bytes) -> list[Subject]:
    return [Subject(field, value) for field, value in unseal_json(secret, sealed)]
