"""`python -m lockdock`."""

from lockdock.cli import main

raise SystemExit(main())
