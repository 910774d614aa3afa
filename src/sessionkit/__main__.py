"""``python -m sessionkit``: the command line (see :mod:`sessionkit.cli`)."""

from sessionkit.cli import main

raise SystemExit(main(prog="python -m sessionkit"))
