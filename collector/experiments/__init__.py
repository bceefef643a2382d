"""Experiments and bandits: config, deterministic assignment, results statistics (README.md)."""
