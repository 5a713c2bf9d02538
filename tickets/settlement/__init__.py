"""Settlement (contract.md § Settlement): rounds that grade a card's tickets and pay its prize
tiers (`rounds`), in set-based batches (`grading`), the tiers' money (`tiers`), what a run
did (`report`), and `ticket_closed` once a result is final (`closing`)."""
