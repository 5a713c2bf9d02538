"""Every module path the code's docstrings and comments, README.md and docs/ name exists: a
dotted path of the engine's packages (`tickets.receipts`, `operators.taxes.creation_taxes`)
resolves to a module and its attribute, and a file path (`tickets/placement/write.py`) to
a file of the repository. Renames leave no stale pointer behind."""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("jackpot", "operators", "betcards", "tickets", "devserver")
DOTTED = re.compile(rf"\b(?:{'|'.join(PACKAGES)})(?:\.[A-Za-z_]\w*)+")
FILE = re.compile(
    rf"\b(?:{'|'.join((*PACKAGES, 'tests', 'benchmarks', 'docs', 'deploy'))})/[\w/.-]*\w"
)
SOURCES = sorted(
    path
    for package in PACKAGES
    for path in (ROOT / package).rglob("*.py")
    if "migrations" not in path.parts
)
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            spec = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            continue
        target: object = importlib.import_module(module_name)
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


BACKTICKED = re.compile(r"`([^`\n]+)`")


def _named(path: Path) -> tuple[set[str], set[str]]:
    """What the text names in backticks (docs, docstrings and comments quote code so)."""
    text = path.read_text()
    quoted = " ".join(BACKTICKED.findall(text))
    dotted = {name for name in DOTTED.findall(quoted) if not _other_dotted_name(name)}
    # a file path is a file path, quoted or not (prose names them bare too)
    files = {name for name in FILE.findall(text) if name.rsplit(".", 1)[-1] in ("py", "md", "conf")}
    return dotted, files


def _other_dotted_name(name: str) -> bool:
    """Dotted names that are not module paths: a model label (`operators.Operator`), a
    permission (`tickets.cancel_ticket`) or a Celery task's name (`tickets.betcard_settle`)."""
    from django.apps import apps
    from django.contrib.auth.models import Permission

    from jackpot.celery import app as celery_app

    label, _, rest = name.partition(".")
    if name.rsplit(".", 1)[-1] in ("py", "md", "html", "com", "org", "example"):
        return True  # a file's name or a host, not a module
    if "." not in rest and rest[:1].isupper():
        return apps.get_containing_app_config(label) is not None or label in PACKAGES
    if name in celery_app.tasks:
        return True
    return Permission.objects.filter(content_type__app_label=label, codename=rest).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", [*SOURCES, *DOCUMENTS], ids=lambda path: str(path.relative_to(ROOT))
)
def test_every_named_module_and_file_exists(path):
    dotted, files = _named(path)

    stale = sorted(name for name in dotted if not _resolves(name))
    stale += sorted(name for name in files if not (ROOT / name).exists())

    assert stale == []
