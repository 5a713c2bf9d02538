"""The Bet Card API (/bc): what an operator can sell (contract.md § Bet Card API)."""
