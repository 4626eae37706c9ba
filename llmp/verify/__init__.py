"""Proofs: rendered controls evaluated by real third-party engines against independent statements of the rules."""
