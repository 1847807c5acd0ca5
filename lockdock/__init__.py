"""lockdock: a Docker hardening assistant (headless core; the TUI lives in lockdock.tui)."""

__version__ = "0.1.0"
