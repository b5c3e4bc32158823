"""``python -m automask`` runs the command line (see `automask.cli`)."""

from automask.cli import main

raise SystemExit(main())
