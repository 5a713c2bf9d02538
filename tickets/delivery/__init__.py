"""Sending queued PAM webhooks: claim a row, POST it, record the attempt, decide what a
failure means (docs/webhooks.md § How a webhook travels). Rows come from `tickets.outbox`."""
