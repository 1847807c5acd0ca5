"""`python -m lockdock`."""

from lockdock.cli.entry import run

run()
