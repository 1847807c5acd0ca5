"""lockdock: a Docker hardening assistant (headless core; the TUI lives in lockdock.tui)."""

from lockdock.dataclasscache import install as _install_dataclass_cache

__version__ = "0.1.0"

_install_dataclass_cache()  # before any lockdock dataclass is made: see lockdock.dataclasscache
