"""``python -m examples.fastapi_host``: run the example host locally (see ``--help``)."""

from examples.fastapi_host.running import main

if __name__ == "__main__":
    raise SystemExit(main())
