"""Shared test settings: hypothesis runs derandomized, so every run of the
suite draws the same examples (a failure on CI reproduces locally)."""

from hypothesis import settings

settings.register_profile("course", derandomize=True, deadline=None)
settings.load_profile("course")
