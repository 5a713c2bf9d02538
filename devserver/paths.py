"""Where the checkout and its local state (`var/`, ignored by git) are."""

from __future__ import annotations

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
VAR_DIR = CHECKOUT / "var"
MANAGE_PY = CHECKOUT / "manage.py"
