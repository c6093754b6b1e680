"""Storage adapters, all passing one contract suite (ST-3, :mod:`enrollkit.testing.contract`).

* :mod:`enrollkit.adapters.memory`: ``MemoryStorage``, in this process's memory;
* :mod:`enrollkit.adapters.sqlite`: ``SQLiteStorage``, the embedded default;
* :mod:`enrollkit.adapters.postgres`: ``PostgresStorage`` (the ``postgres`` extra).

Import the one you use from its module; this package imports none of them.
Adapters import the domain, never the other way round.
"""
