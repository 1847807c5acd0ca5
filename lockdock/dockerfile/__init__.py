"""lockdock.dockerfile."""
