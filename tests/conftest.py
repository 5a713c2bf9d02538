"""Test infrastructure shared by every test module (state builders live in factories.py)."""

from __future__ import annotations

from django.conf import settings


def pytest_configure() -> None:
    # WhiteNoise warns (an error under filterwarnings) when STATIC_ROOT is missing, which it
    # is on a fresh clone before collectstatic; every test through the middleware needs it.
    from pathlib import Path

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
