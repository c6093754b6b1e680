"""``python -m enrollkit``: see :mod:`enrollkit.cli` (importing this module runs nothing)."""

from enrollkit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
