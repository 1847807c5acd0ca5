"""The `lockdock` command line (console script `lockdock = lockdock.cli:main`).

Modules: `entry` (parser, dispatch, `main`), `options` (what commands share), `scan`,
`fix` (fix and undo), `explain` (checks and explain). They import `options` and nothing
of each other except `entry`, which imports the commands.
"""

from lockdock.cli.entry import main

__all__ = ["main"]
