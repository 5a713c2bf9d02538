"""Where the operator API lives: signed server-to-server calls (read without Django)."""

API_PREFIXES = ("/be/", "/bc/")
