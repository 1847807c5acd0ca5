"""The write transaction: plan and merge edits, preflight, write, journal, verify, preview.

`fixers/` holds the rules that propose a `Fix`; this package decides whether and how a fix
lands on disk (or on the engine) and how it is taken back.
"""
