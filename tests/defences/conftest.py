"""Fixtures of the defence tests: a tiny CNN trained on synthetic beats (shared with the attack tests)."""

from tests.attacks.conftest import trained_classifier  # noqa: F401  (re-exported fixture)
