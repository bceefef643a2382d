"""Fixtures for the attribution tests (shared with tests/scores via helpers.py)."""

from tests.attribution.helpers import env_factory  # noqa: F401  (a fixture)
