"""Test infrastructure shared by every test module (state builders live in factories.py)."""

from __future__ import annotations
