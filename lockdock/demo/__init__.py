"""lockdock.demo."""
