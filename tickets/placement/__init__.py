"""Ticket placement (contract.md § POST /be/tickets): the order (`order`), the ordered
business checks (`checks`), the one-statement write (`write`), idempotent replays
(`idempotency`) and the service that runs them in turn (`service.ticket_place`)."""
