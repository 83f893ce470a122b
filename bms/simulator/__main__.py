"""`python -m bms.simulator --devices N --objects M ...` (see cli.py)."""

from bms.simulator.cli import main

raise SystemExit(main())
