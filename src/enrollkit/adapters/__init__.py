"""Storage adapters: in-memory (:mod:`enrollkit.adapters.memory`) and more to come.

Adapters import the domain, never the other way round.
"""
