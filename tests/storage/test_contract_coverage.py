"""ST-3: the shipped contract suite covers every collection enrollkit defines."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest

import enrollkit
from enrollkit.adapters.memory import MemoryStorage
from enrollkit.storage import Collection, Index
from enrollkit.testing.contract import StorageContract


def defined_collections() -> dict[str, Collection[Any]]:
    """Every module-level Collection in the enrollkit package, by storage name."""
    found: dict[str, Collection[Any]] = {}
    for info in pkgutil.walk_packages(enrollkit.__path__, prefix="enrollkit."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, Collection):
                found[value.name] = value
    return found


class TestContractCoverage:
    def test_st_3_every_collection_is_round_tripped_by_default(self) -> None:
        """A Collection defined anywhere in enrollkit is among the contract's default cases."""
        defined = defined_collections()
        covered = {
            case.collection.name: case.collection for case in StorageContract.round_trip_cases
        }
        missing = sorted(set(defined) - set(covered))
        assert missing == [], (
            f"collections without a round-trip case in StorageContract: {missing}; add a "
            "strategy to enrollkit.testing.strategies.DOMAIN_STRATEGIES"
        )
        for name, collection in defined.items():
            assert covered[name] is collection, f"{name}: the case names another collection"

    def test_st_3_the_walk_finds_the_domain_collections(self) -> None:
        """The coverage check sees the domain packages' collections (it is not vacuous)."""
        assert {
            "identity_accounts",
            "access_organizations",
            "access_profiles",
            "access_associations",
            "access_invitations",
            "access_connections",
            "applications",
            "enrollment_changes",
            "signature_sheets",
        } <= set(defined_collections())


class _WithoutEvolution(MemoryStorage):
    """A store as an integrator might write it without index evolution: it builds a
    collection's index entries the first time it sees it and never again, and answers a
    query on an index it has no entries for with nothing."""

    def register(self, collection: Collection[Any]) -> None:
        if collection.name not in self._collections:
            super().register(collection)

    def find(self, collection: Collection[Any], index: Index[Any], key: str) -> list[Any]:
        if (collection.name, index.name) not in self._indexes:
            return []
        return super().find(collection, index, key)


class _ContractOnIt(StorageContract):
    def make_storage(self) -> MemoryStorage:
        return _WithoutEvolution()


class TestTheContractBites:
    def test_st_3_a_store_without_index_evolution_fails_the_contract(self) -> None:
        """The evolution test is not vacuous: a store that never rebuilds index entries
        after a release adds an index fails it (and passes the rest of that area)."""
        contract = _ContractOnIt()
        storage = contract.make_storage()
        with pytest.raises(AssertionError):
            contract.test_st_3_a_new_index_finds_what_was_stored_before_it(storage)

    def test_st_3_the_shipped_memory_store_passes_it(self) -> None:
        """The same test passes the shipped in-memory store (the control)."""
        contract = _ContractOnIt()
        contract.test_st_3_a_new_index_finds_what_was_stored_before_it(MemoryStorage())
