"""lockdock.compose."""
