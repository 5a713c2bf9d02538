"""Operator secret keys: generation and encryption at rest (contract.md § Authentication).

A database dump alone must not let anyone sign requests, so the secret is stored as a
Fernet token under `OPERATOR_SECRET_ENCRYPTION_KEY` (MultiFernet: the first key encrypts,
every listed key decrypts, which allows rotating the encryption key).
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@lru_cache(maxsize=1)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def cipher() -> MultiFernet:
    return _cipher(tuple(settings.OPERATOR_SECRET_ENCRYPTION_KEYS))


def generate_secret_key() -> str:
    """A new operator secret: 40 random characters, safe in headers and shells."""
    return secrets.token_urlsafe(30)


def encrypt_secret(plain: str) -> str:
    return cipher().encrypt(plain.encode()).decode()


def decrypt_secret(token: str) -> str:
    return cipher().decrypt(token.encode()).decode()
