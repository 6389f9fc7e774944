"""``python -m cfcore``: the command-line interface."""

from cfcore.cli import main

raise SystemExit(main())
