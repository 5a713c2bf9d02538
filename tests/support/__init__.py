"""Helpers shared by test modules (signed API calls, the contract's sample data)."""
