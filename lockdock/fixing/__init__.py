"""The write transaction: plan and merge edits, preflight, write, journal, rescan, preview,
and `--verify` (build and start the fixed stack before anything lands).

`fixers/` holds the rules that propose a `Fix`; this package decides whether and how a fix
lands on disk (or on the engine) and how it is taken back.
"""
