"""ST-4 for the access aggregates: each round-trips through the one converter."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from enrollkit.access import (
    Association,
    Connection,
    Invitation,
    Organization,
    ProviderProfile,
)
from enrollkit.serialization import canonical_json, from_data, to_data
from enrollkit.testing import strategies as s

CASES: list[tuple[type[Any], st.SearchStrategy[Any]]] = [
    (Organization, s.organizations),
    (ProviderProfile, s.profiles()),
    (Association, s.associations),
    (Connection, s.connections()),
    (Invitation, s.invitations()),
]


class TestRoundTrip:
    @given(data=st.data())
    def test_st_4_access_aggregates_round_trip(self, data: st.DataObject) -> None:
        """Every access aggregate survives to_data/from_data unchanged, canonically."""
        for cls, strategy in CASES:
            obj = data.draw(strategy)
            raw = to_data(obj)
            again = from_data(raw, cls)
            assert again == obj
            assert canonical_json(again) == canonical_json(obj)

    @given(s.connections())
    def test_co_2_systems_serialize_sorted_and_shared(self, connection: Connection) -> None:
        """Systems are stored as sorted lists and read back as the shared frozensets."""
        raw = to_data(connection)
        assert raw["requested_systems"] == sorted(raw["requested_systems"], key=lambda v: f'"{v}"')
        again = from_data(raw, Connection)
        assert again.requested_systems is connection.requested_systems
