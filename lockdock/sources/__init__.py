"""Source modules: each turns discovered files or engine objects into subjects."""
