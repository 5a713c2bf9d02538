"""The secrets of this checkout's `make run` (var/local.env), generated once and kept."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet

from devserver.paths import VAR_DIR

LOCAL_ENV = VAR_DIR / "local.env"
_GENERATORS: dict[str, Callable[[], str]] = {
    "SECRET_KEY": lambda: secrets.token_urlsafe(50),
    "OPERATOR_SECRET_ENCRYPTION_KEY": lambda: Fernet.generate_key().decode(),
    "METRICS_TOKEN": lambda: secrets.token_urlsafe(24),
}


def local_secrets(path: Path = LOCAL_ENV) -> dict[str, str]:
    """SECRET_KEY, OPERATOR_SECRET_ENCRYPTION_KEY and METRICS_TOKEN of this checkout, generated
    on first use.

    Kept in var/local.env (mode 0600) and reused ever after: operator secrets are stored
    encrypted with the Fernet key, so a new key would make every stored secret unreadable.
    A key missing from the file is added; an existing one is never replaced.
    """
    text = path.read_text() if path.exists() else ""
    values: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.lstrip().startswith("#"):
            values[name.strip()] = value.strip()
    missing = {name: make() for name, make in _GENERATORS.items() if not values.get(name)}
    if missing:
        if not text:
            text = "# Secrets of this checkout for `make run`, generated once. Keep this file:\n"
            text += "# stored operator secrets cannot be decrypted without its encryption key.\n"
        text = text if text.endswith("\n") else text + "\n"
        text += "".join(f"{name}={value}\n" for name, value in missing.items())
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        temporary.replace(path)
        values.update(missing)
    return {name: values[name] for name in _GENERATORS}
