"""Analyzers: one module per concern, each registering with `lockdock.registry.analyzer`."""
