"""The adapter kit: what every enrollkit storage stands on, public for the host's own.

The shipped adapters (memory, SQLite, PostgreSQL, SQLAlchemy Core) are built
from these parts and nothing else; a third-party adapter is too. Two ways in:

**A key-value or document store** implements a :class:`Backend` (seven small
methods: ``check_open``, ``storable``, ``register``, ``load``, ``find``,
``find_range``, ``apply``) and returns a :class:`BufferedUnitOfWork` over it
from ``unit_of_work()``. The unit of work does the rest of the storage
contract: the ``with`` lifecycle (``storage.uow_closed``,
``storage.uow_reused``), reads that see the unit's own writes, refusals at
once inside the unit (``storage.add_version``, ``storage.wrong_type``,
``storage.duplicate``, ``storage.stale``, ``storage.missing``,
``storage.unique``, ``storage.unknown_index``, ``storage.unordered_index``,
``storage.text``, ``storage.not_an_event``), and the range rule (each
aggregate once, at its lowest key in the range: :func:`merge_range`). The
backend's :meth:`Backend.apply` receives every write with its index keys
computed once (``Writes``) and must apply them and the events atomically,
refusing a stale version, an existing id or a taken unique key with the
errors of :mod:`enrollkit.storage`. Its :meth:`Backend.register` must keep
**index evolution**: when a collection's declared index set differs from the
one its stored entries were built for (compare :func:`fingerprint`), rebuild
them before answering; the contract suite checks it.

**A SQL database** subclasses :class:`SqlBackend`: it brings the shared
schema's statements (:class:`SqlStatements`, for its placeholder style and
table prefix), a way to read (``_connect``), a way to run one write
transaction (``_attempt``), which driver errors are worth retrying
(``_retryable``) and how to word the others (``_translate``). The backend
does load/find/range, the commit (row-count-checked versioned updates, index
entries, the audit chain after the locked head), index evolution, retries
and the audit log (:class:`SqlAuditLog`). :mod:`enrollkit.adapters.sqlalchemy`
is a complete example in about 250 lines.

**Flushing** (optional): a backend that also has ``begin()``, returning a
:class:`BackendTransaction` (or None when it cannot), lets units of work write as
they go (:func:`enrollkit.storage.flush`): a bulk load then holds one batch in
memory, not the whole unit, and still commits all or nothing. A
:class:`SqlBackend` gets it by implementing ``_transaction()`` (a write
transaction on a connection of its own, open while its context is); without it,
and for a backend without ``begin()``, ``flush()`` leaves the writes buffered
until the commit: the same results, only more memory. A backend (and its
transaction) may also answer ``find_ids(collection, index, key)``, the ids of
``find()`` without reading the aggregates (:func:`enrollkit.storage.find_ids`).

Either way, run :class:`enrollkit.testing.contract.StorageContract` against
the result (``pip install "enrollkit[testing]"``); the docs' error-code page
lists every code the contract expects (``CONTRACT_CODES``).
"""

from __future__ import annotations

from enrollkit.adapters._buffered import (
    Backend,
    BackendReads,
    BackendTransaction,
    BaseKeys,
    BufferedRepository,
    BufferedStorage,
    BufferedUnitOfWork,
    CommittedReader,
    DecodeCache,
    Keys,
    Planned,
    UnitOfWorkLifecycle,
    UnitWrites,
    Write,
    Writes,
    base_keys_of,
    closed_error,
    decode,
    encode,
    event_data_text,
    event_from_row,
    index_keys,
    merge_range,
    planned_rows,
    refuse_text,
    storable_text,
)
from enrollkit.adapters._sqlkit import (
    DEFAULT_DECODE_CACHE_SIZE,
    Cursor,
    Executor,
    SqlAuditLog,
    SqlBackend,
    SqlOptions,
    SqlStatements,
    SqlTransaction,
    ThreadConnections,
    fresh_entries,
    run_migrations,
    stale_entries,
)
from enrollkit.storage import fingerprint

__all__ = [
    "DEFAULT_DECODE_CACHE_SIZE",
    "Backend",
    "BackendReads",
    "BackendTransaction",
    "BaseKeys",
    "BufferedRepository",
    "BufferedStorage",
    "BufferedUnitOfWork",
    "CommittedReader",
    "Cursor",
    "DecodeCache",
    "Executor",
    "Keys",
    "Planned",
    "SqlAuditLog",
    "SqlBackend",
    "SqlOptions",
    "SqlStatements",
    "SqlTransaction",
    "ThreadConnections",
    "UnitOfWorkLifecycle",
    "UnitWrites",
    "Write",
    "Writes",
    "base_keys_of",
    "closed_error",
    "decode",
    "encode",
    "event_data_text",
    "event_from_row",
    "fingerprint",
    "fresh_entries",
    "index_keys",
    "merge_range",
    "planned_rows",
    "refuse_text",
    "run_migrations",
    "stale_entries",
    "storable_text",
]
