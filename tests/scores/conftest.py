"""Fixtures for the person-score tests (helpers shared with tests/attribution)."""

from tests.attribution.helpers import env_factory  # noqa: F401  (a fixture)
