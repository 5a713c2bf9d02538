"""Ticket placement (contract.md § POST /be/tickets), decide then write: the order
(`order`), the ordered business checks (`checks`, `limits`), the writer that writes or says
why not (`write`), and the service that runs them in turn (`service.ticket_place`); a
write's receipt and its repeats live in `tickets.receipts`."""
