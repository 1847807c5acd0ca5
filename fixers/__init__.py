"""Fixers: turn findings into previewable edits, and write them safely."""
