"""Where a webhook URL points: the engine must not be made to call its own network.

An operator's webhook URL is the engine's only outbound call that a third party chooses. In
production (`PAM_ALLOW_PRIVATE_URLS` off, the default with DEBUG off) a URL whose host is,
or resolves to, anything but a global unicast address (loopback, link-local, private,
shared 100.64/10 as carriers and clouds use it, reserved, documentation, multicast,
unspecified) is refused when it is set (`operators.services`) and again before each call
(`operators.pam`, against DNS answers that change after the check). `make run` and the
tests allow them for the local fake PAM.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from urllib.parse import urlsplit

from django.conf import settings

RESOLVED_SECONDS = 60.0
_resolved: dict[str, tuple[float, str | None]] = {}
_resolved_lock = threading.Lock()


def internal_address(url: str) -> str | None:
    """The first internal address the URL's host is or resolves to; None when there is none
    (a host that does not resolve has no address to refuse: its call fails on its own)."""
    host = urlsplit(url).hostname or ""
    try:
        candidates = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return None
        candidates = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in candidates:
        mapped = getattr(address, "ipv4_mapped", None) or address
        # `is_global` is False for every special-purpose block of IANA's registries; a
        # multicast address can be "global" by scope, but is no webhook host either.
        if not mapped.is_global or mapped.is_multicast:
            return str(address)
    return None


def internal_address_refused(url: str) -> str | None:
    """Why the engine must not call `url` now (its internal address), or None; answers are
    kept for RESOLVED_SECONDS per host, so a webhook costs no DNS lookup of its own."""
    if settings.PAM_ALLOW_PRIVATE_URLS:
        return None
    host = urlsplit(url).hostname or ""
    now = time.monotonic()
    with _resolved_lock:
        cached = _resolved.get(host)
    if cached is not None and cached[0] > now:
        return cached[1]
    found = internal_address(url)
    with _resolved_lock:
        _resolved[host] = (now + RESOLVED_SECONDS, found)
    return found
