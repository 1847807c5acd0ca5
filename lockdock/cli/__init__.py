"""The `lockdock` command line (console script `lockdock = lockdock.cli.entry:run`, which calls `main`).

Modules: `entry` (parser, dispatch, `main`), `options` (what commands share), `scan`,
`fix` (fix and undo), `explain` (checks and explain), `init` (starter config),
`targets` (what was asked for and whether it was scanned). They import `options` (`scan` and `fix`
also `targets`) and nothing of each other except `entry`, which imports the commands.
"""

from lockdock.cli.entry import main

__all__ = ["main"]
