"""The repository stands on its own: every relative link in README.md and docs/ points at a
file of the repository (and, with a `#fragment`, at one of its headings), and nothing names
the specification folder beside the repository, which a user's clone does not have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+)$", re.M)
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(document: Path) -> set[str]:
    return {anchor(heading) for heading in HEADING.findall(FENCE.sub("", document.read_text()))}


def relative_links(document: Path) -> list[str]:
    text = FENCE.sub("", document.read_text())
    return [
        target
        for target in LINK.findall(text)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto:
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_relative_link_resolves(document):
    broken = []
    for target in relative_links(document):
        path, _, fragment = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        if (
            not resolved.is_relative_to(ROOT)
            or not resolved.exists()
            or (fragment and resolved.suffix == ".md" and fragment not in anchors(resolved))
        ):
            broken.append(target)

    assert broken == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_nothing_points_outside_the_repository(document):
    assert not re.search(r"shared/(spec|style)|\.\./shared", document.read_text())


def test_the_anchor_rule_matches_githubs():
    assert anchor("GET /be/tickets/{identifier}") == "get-beticketsidentifier"
    assert anchor("Authentication (every `/be/` and `/bc/` request)") == (
        "authentication-every-be-and-bc-request"
    )
