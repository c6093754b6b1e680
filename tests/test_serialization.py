"""ST-4: the one converter."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import attrs
import cattrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit import NPI, NPIType
from enrollkit.access import Connection
from enrollkit.audit import AuditEntry, ChainHead, DomainEvent, chain
from enrollkit.errors import SerializationError
from enrollkit.npi import EIN
from enrollkit.serialization import _fast, canonical_json, converter, from_data, to_data
from enrollkit.testing import strategies as access_strategies

T0 = datetime(2026, 1, 1, tzinfo=UTC)

npis = st.from_regex(r"[12][0-9]{8}", fullmatch=True).map(
    lambda b: NPI(b + str(NPI.check_digit_for(b)))
)
eins = st.from_regex(r"[0-9]{9}", fullmatch=True).map(EIN)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
event_st = st.builds(
    DomainEvent,
    st.sampled_from(["a.b", "c.d"]),
    subject=st.text(min_size=1, max_size=5),
    actor=st.none() | st.text(min_size=1, max_size=5),
    at=moments,
    data=st.dictionaries(st.sampled_from(["k", "n"]), st.integers() | st.text(max_size=4)),
)


@attrs.frozen
class Sample:
    npi: NPI
    ein: EIN | None
    kind: NPIType
    when: datetime
    day: date
    systems: frozenset[NPIType]
    wait: timedelta


samples = st.builds(
    Sample,
    npi=npis,
    ein=st.none() | eins,
    kind=st.sampled_from(NPIType),
    when=moments,
    day=st.dates(),
    systems=st.frozensets(st.sampled_from(NPIType)),
    wait=st.integers(0, 10**6).map(lambda s: timedelta(seconds=s)),
)


class TestRoundTrip:
    @given(samples)
    def test_st_4_round_trip_of_kernel_types(self, value: Sample) -> None:
        """structure(unstructure(x)) == x for NPIs, EINs, enums, datetimes, dates, sets."""
        assert from_data(to_data(value), Sample) == value

    @given(event_st)
    def test_st_4_round_trip_of_events(self, event: DomainEvent) -> None:
        """Domain events round-trip."""
        assert from_data(to_data(event), DomainEvent) == event

    @given(st.lists(event_st, min_size=1, max_size=4))
    def test_st_4_round_trip_of_audit_entries(self, events: list[DomainEvent]) -> None:
        """Audit entries and chain heads round-trip."""
        entries = chain(events)
        back = [from_data(to_data(e), AuditEntry) for e in entries]
        assert back == entries
        head = ChainHead(len(entries), entries[-1].hash)
        assert from_data(to_data(head), ChainHead) == head

    def test_st_4_representation(self) -> None:
        """Datetimes as ISO-8601 UTC, enums by value, NPIs as strings, sets sorted."""
        value = Sample(
            npi=NPI("1234567893"),
            ein=EIN("123456789"),
            kind=NPIType.ORGANIZATION,
            when=T0,
            day=date(2026, 2, 3),
            systems=frozenset({NPIType.ORGANIZATION, NPIType.INDIVIDUAL}),
            wait=timedelta(hours=1),
        )
        assert to_data(value) == {
            "npi": "1234567893",
            "ein": "12-3456789",
            "kind": 2,
            "when": "2026-01-01T00:00:00+00:00",
            "day": "2026-02-03",
            "systems": [1, 2],
            "wait": 3600.0,
        }
        assert canonical_json(value).startswith(b'{"day":"2026-02-03","ein"')


class TestGarbageIn:
    @pytest.mark.parametrize(
        ("data", "path"),
        [
            ({"npi": "1234567890"}, "$.npi"),
            ({"when": "yesterday"}, "$.when"),
            ({"when": "2026-01-01T00:00:00"}, "$.when"),
            ({"kind": 3}, "$.kind"),
            ({"day": 5}, "$.day"),
            ({"systems": [1, 7]}, "$.systems"),
            ({"wait": "long"}, "$.wait"),
        ],
    )
    def test_st_4_malformed_input_names_the_field_path(
        self, data: dict[str, object], path: str
    ) -> None:
        """Malformed input raises SerializationError naming the failing field path."""
        good = to_data(
            Sample(
                NPI("1234567893"),
                None,
                NPIType.INDIVIDUAL,
                T0,
                date(2026, 1, 1),
                frozenset(),
                timedelta(),
            )
        )
        with pytest.raises(SerializationError) as info:
            from_data({**good, **data}, Sample)
        assert any(path in problem for problem in info.value.fields["errors"])
        assert info.value.code == "serialization.invalid"

    @pytest.mark.parametrize("garbage", [None, 5, "x", [], {"unexpected": 1}])
    def test_st_4_garbage_gives_our_error(self, garbage: object) -> None:
        """Garbage of any shape gives our error, never a bare builtin one."""
        with pytest.raises(SerializationError):
            from_data(garbage, Sample)

    def test_st_4_unknown_fields_are_refused(self) -> None:
        """Extra keys are refused, so typos in stored data do not vanish silently."""
        data = to_data(ChainHead(1, "a" * 64))
        with pytest.raises(SerializationError) as info:
            from_data({**data, "extra": 1}, ChainHead)
        assert "extra" in str(info.value)

    @given(
        st.recursive(
            st.none() | st.integers() | st.text(),
            lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        )
    )
    def test_st_4_arbitrary_json_never_escapes_as_a_builtin_error(self, garbage: object) -> None:
        """Whatever JSON comes in, the outcome is a value or our SerializationError."""
        try:
            value = from_data(garbage, DomainEvent)
        except SerializationError as exc:
            assert exc.fields["errors"]
        else:
            assert isinstance(value, DomainEvent)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
    max_leaves=6,
)


def _outcome(conv: cattrs.Converter, data: object, cls: type) -> tuple[bool, object]:
    try:
        return True, conv.structure(data, cls)
    except Exception as exc:  # the outcome is what is compared
        return False, exc


class TestFastMode:
    @given(
        st.one_of(
            st.tuples(samples.map(to_data), st.just(Sample)),
            st.tuples(access_strategies.connections().map(to_data), st.just(Connection)),
        ),
        st.data(),
    )
    def test_st_4_the_fast_mode_reads_what_the_detailed_mode_reads(
        self, case: tuple[dict[str, object], type], data: st.DataObject
    ) -> None:
        """The fast mode accepts a value only if the detailed mode builds an equal one."""
        raw, cls = case
        if data.draw(st.booleans()):
            field = data.draw(st.sampled_from(sorted(raw)))
            raw = {**raw, field: data.draw(json_values | st.sampled_from(list(raw.values())))}
        fast_ok, fast = _outcome(_fast, raw, cls)
        detailed_ok, detailed = _outcome(converter, raw, cls)
        if fast_ok:
            assert detailed_ok
            assert fast == detailed
