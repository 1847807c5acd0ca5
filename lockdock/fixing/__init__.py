"""The write transaction of fixes: plan, preflight, write, journal, verify by running."""
