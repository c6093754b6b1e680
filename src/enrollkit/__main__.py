"""``python -m enrollkit``: see :mod:`enrollkit.cli`."""

from enrollkit.cli import main

raise SystemExit(main())
