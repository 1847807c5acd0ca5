"""lockdock.engine."""
