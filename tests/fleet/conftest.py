"""The fleet fixtures live in `tests.fleet.engines` (loaded for the whole suite by
tests/conftest.py so tests/tui shares the same engines); their constants are re-exported
here for the fleet tests. Fixture functions are not imported here: that would make a
second, separate session fixture (a second dockerd)."""

from tests.fleet.engines import BB_TAG, LABELS, OLD_TAG, SERVICE_SECRET, _start

__all__ = ["BB_TAG", "LABELS", "OLD_TAG", "SERVICE_SECRET", "_start"]
