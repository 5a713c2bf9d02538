"""Settings fail fast without secrets when DEBUG is off, and pass Django's deploy checks."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

pytestmark = pytest.mark.slow  # each test starts a Python process that loads Django

PROJECT_DIR = Path(__file__).resolve().parent.parent
STRONG_SECRET_KEY = secrets.token_urlsafe(50)
SETUP = "import django; django.setup()"


def run_python(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the project's Python with DEBUG off, no .env file and no secrets unless given."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"SECRET_KEY", "OPERATOR_SECRET_ENCRYPTION_KEY", "ALLOWED_HOSTS"}
    }
    environment |= {
        "DEBUG": "false",
        "DJANGO_READ_DOT_ENV_FILE": "false",
        "DJANGO_SETTINGS_MODULE": "jackpot.settings",
        **env,
    }
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_secret_key_stops_start_up() -> None:
    result = run_python("-c", SETUP, OPERATOR_SECRET_ENCRYPTION_KEY=Fernet.generate_key().decode())

    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured: SECRET_KEY must be set" in result.stderr


def test_weak_secret_key_stops_start_up() -> None:
    result = run_python(
        "-c",
        SETUP,
        SECRET_KEY="short",
        OPERATOR_SECRET_ENCRYPTION_KEY=Fernet.generate_key().decode(),
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is too weak for DEBUG=false" in result.stderr


def test_missing_operator_secret_encryption_key_stops_start_up() -> None:
    result = run_python("-c", SETUP, SECRET_KEY=STRONG_SECRET_KEY)

    assert result.returncode != 0
    assert (
        "django.core.exceptions.ImproperlyConfigured: OPERATOR_SECRET_ENCRYPTION_KEY must be set"
        in result.stderr
    )


def test_production_settings_pass_the_deploy_checks() -> None:
    result = run_python(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=STRONG_SECRET_KEY,
        OPERATOR_SECRET_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="example.com",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("System check identified no issues")


def test_env_example_lists_every_variable_settings_reads():
    settings_source = (PROJECT_DIR / "jackpot" / "settings.py").read_text()
    read = set(re.findall(r"\benv\.\w+\(\s*\"([A-Z0-9_]+)\"", settings_source))
    example = (PROJECT_DIR / ".env.example").read_text()
    listed = set(re.findall(r"^(?:# )?([A-Z0-9_]+)=", example, re.M))

    assert read - listed == set()
    assert {"DATABASE_URL", "SECRET_KEY", "OPERATOR_SECRET_ENCRYPTION_KEY"} <= read
