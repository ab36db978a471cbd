"""Shared test set-up: the fixture images' folder (harness.FIXTURES), re-exported
for the training tests that import it from here."""

from harness import FIXTURES  # noqa: F401
