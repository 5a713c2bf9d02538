"""The PAM webhook outbox (contract.md § PAM webhooks; design in docs/webhooks.md).

One way in, `queueing.enqueue` (and its two forms for placement and set-based writes);
one way to wake a worker, `waking.wake`; and the sweep that finds what a lost wake left
behind. What bodies say lives in `payloads`. Sending a row, recording each attempt and
deciding what a failure means live in `tickets.delivery`.
"""
