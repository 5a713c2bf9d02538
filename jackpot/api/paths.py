"""Where the operator API lives: signed server-to-server calls (read without Django)."""

API_PREFIXES = ("/be/", "/bc/")
PROBE_PATHS = ("/health", "/ready", "/metrics")
"""What load balancers, orchestrators and Prometheus ask (jackpot.probes): JSON answers."""
ARRIVED = "jackpot.arrived"
"""The WSGI environ key where the web server notes when a request arrived (unix time)."""
