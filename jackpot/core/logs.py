"""Logging helpers named in `settings.LOGGING`."""

from __future__ import annotations

import logging


class WithoutTraceback(logging.Filter):
    """Keeps the record's one line and drops its traceback (an expected client error that a
    library logs with `exc_info`, such as Django's DisallowedHost)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True
