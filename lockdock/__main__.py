"""`python -m lockdock`."""

from lockdock.cli.entry import main

raise SystemExit(main())
