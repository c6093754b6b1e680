"""A runnable FastAPI host over the enrollkit facade, on SQLite.

``create_app(kit)`` (in :mod:`examples.fastapi_host.app`) builds the app from an
:class:`enrollkit.Enrollkit` the caller made; ``python -m examples.fastapi_host``
runs it locally with stand-ins for the host's mailer, help desk, identity proofing
and NPPES (:mod:`examples.fastapi_host.running`). See docs/host-example.md.
"""

from examples.fastapi_host.app import Host, create_app, status_for
from examples.fastapi_host.tokens import TokenStore, Unauthenticated

__all__ = ["Host", "TokenStore", "Unauthenticated", "create_app", "status_for"]
