"""Ticket ids and codes (contract.md § Ticket id, § Ticket code)."""

from __future__ import annotations

import re
import time

from tickets.identifiers import ticket_code, ticket_id


def test_id_is_24_hex_starting_with_the_unix_time():
    before = int(time.time())

    value = ticket_id()

    assert re.fullmatch(r"[0-9a-f]{24}", value)
    assert before <= int(value[:8], 16) <= int(time.time())


def test_ids_sort_by_creation_time():
    assert ticket_id(1_700_000_000) < ticket_id(1_700_000_001)
    assert ticket_id(1_706_090_303).startswith("65b0df3f")


def test_ids_are_random_after_the_time():
    assert len({ticket_id(1_700_000_000) for _ in range(1000)}) == 1000


def test_code_is_6_upper_case_letters_or_digits_and_random():
    codes = [ticket_code() for _ in range(2000)]

    assert all(re.fullmatch(r"[A-Z0-9]{6}", code) for code in codes)
    assert len(set(codes)) == 2000
    assert set("".join(codes)) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
