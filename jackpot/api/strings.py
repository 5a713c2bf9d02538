"""The one rule for every string an operator sends (body fields, query parameters, the
`Idempotency-Key` header): its documented length, no NUL, and, when it is not empty, at
least one character that is not white space.

A blank string names nothing: a `token` of one space would make a ticket for a player
with no name, and under `betstack` signing (white space removed) it signs exactly like
the empty token, which is refused.
"""

from __future__ import annotations


def string_problem(value: str, *, shortest: int, longest: int) -> tuple[str, str] | None:
    """`(msg, type)` of the 422 item when `value` breaks the rule, else None."""
    if len(value) < shortest:
        plural = "" if shortest == 1 else "s"
        return f"String should have at least {shortest} character{plural}", "string_too_short"
    if len(value) > longest:
        return f"String should have at most {longest} characters", "string_too_long"
    if "\x00" in value:
        return "String should not contain NUL characters", "string_pattern_mismatch"
    if value.isspace():
        return "String should contain a character that is not white space", "string_blank"
    return None


def text_problem(value: str, *, longest: int) -> tuple[str, str] | None:
    """`string_problem` for a query parameter or header of 1 to `longest` characters, whose
    422 names both bounds in one message (`string_length`)."""
    problem = string_problem(value, shortest=1, longest=longest)
    if problem is not None and problem[1] in ("string_too_short", "string_too_long"):
        return f"String should have 1 to {longest} characters", "string_length"
    return problem
