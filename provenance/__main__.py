"""``python -m provenance`` runs the command line."""

from provenance.cli.main import main

raise SystemExit(main())
