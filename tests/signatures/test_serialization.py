"""ST-4 for the signature, agenda and report values: everything round-trips."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from enrollkit.access import Role
from enrollkit.enrollment import (
    FORM_KINDS,
    PROVIDER_TYPES_BY_FORM,
    AgendaItem,
    ChangeKind,
    Form,
    Kind,
    MedicareIdRow,
    OfficialRole,
    ReportableChange,
)
from enrollkit.serialization import from_data, to_data
from enrollkit.signatures import (
    RequestStatus,
    Signature,
    SignatureMethod,
    SignatureRequest,
    SignatureSheet,
    signer_slots,
)
from enrollkit.testing.strategies import moments, sha256s

slots = st.sampled_from(
    [
        s
        for f in Form
        for k in sorted(FORM_KINDS[f], key=lambda k: k.value)
        if k is not Kind.REASSIGNMENT_TERMINATION
        for t in PROVIDER_TYPES_BY_FORM[f]
        for s in signer_slots(f, k, reassignment=False, provider_type=t)
    ]
)
requests = st.builds(
    SignatureRequest,
    id=st.from_regex(r"sigreq-[0-9]{3}", fullmatch=True),
    slot=slots,
    revision=st.integers(1, 9),
    digest=sha256s,
    opened_at=moments,
    candidates=st.lists(st.sampled_from(["u-1", "u-2"]), max_size=2, unique=True).map(tuple),
    status=st.sampled_from(RequestStatus),
    closed_at=st.none() | moments,
    decline_reason=st.none() | st.text(max_size=10),
    paper_signers=st.lists(st.sampled_from(["Carl Chen", "Olga Ortiz"]), max_size=2).map(tuple),
)
signatures = st.builds(
    Signature,
    id=st.from_regex(r"sig-[0-9]{3}", fullmatch=True),
    request_id=st.just("sigreq-001"),
    slot=st.sampled_from(["individual", "authorized_official"]),
    signer_id=st.none() | st.sampled_from(["u-1", "u-2"]),
    role=st.none() | st.sampled_from(Role),
    record_role=st.none() | st.sampled_from(OfficialRole),
    method=st.sampled_from(SignatureMethod),
    signed_at=moments,
    revision=st.integers(1, 9),
    digest=sha256s,
    statement_sha256=st.none() | sha256s,
    uploaded_by=st.none() | st.just("u-3"),
    superseded_at=st.none() | moments,
    signer_name=st.none() | st.just("Carl Chen"),
)
sheets = st.builds(
    SignatureSheet,
    id=st.just("app-1"),
    requests=st.lists(requests, max_size=3).map(tuple),
    signatures=st.lists(signatures, max_size=3).map(tuple),
)


class TestRoundTrip:
    @given(sheet=sheets)
    def test_st_4_signature_sheet_round_trips(self, sheet: SignatureSheet) -> None:
        """Sheets with any requests and signatures round-trip through the converter."""
        assert from_data(to_data(sheet), SignatureSheet) == sheet

    @given(
        item=st.builds(
            AgendaItem,
            kind=st.sampled_from(["signature.awaited", "revalidation.due"]),
            due=moments,
            days_left=st.integers(-5, 400),
            title=st.text(max_size=20),
            subject=st.text(min_size=1, max_size=8),
            profile_id=st.none() | st.just("prof-1"),
            rule=st.sampled_from(["EN-9", "SG-2"]),
        )
    )
    def test_st_4_agenda_items_round_trip(self, item: AgendaItem) -> None:
        """Agenda items are JSON-ready and round-trip (EN-9)."""
        assert from_data(to_data(item), AgendaItem) == item

    @given(
        change=st.builds(
            ReportableChange,
            id=st.just("change-1"),
            profile_id=st.just("prof-1"),
            form=st.sampled_from(Form),
            change=st.sampled_from(ChangeKind),
            occurred_on=st.dates(),
            description=st.text(max_size=10),
            recorded_by=st.just("u-1"),
            recorded_at=moments,
            reported_at=st.none() | moments,
        )
    )
    def test_st_4_reportable_changes_round_trip(self, change: ReportableChange) -> None:
        """Reportable changes round-trip (EN-7)."""
        assert from_data(to_data(change), ReportableChange) == change

    def test_st_4_report_rows_round_trip(self) -> None:
        """Report rows are JSON-ready (EN-8)."""
        row = MedicareIdRow(
            "app-1",
            "prof-1",
            Form.CMS_855I,
            "1234567893",
            "Ana Diaz",
            "PT-1",
            "MC-1",
            None,
            datetime(2026, 1, 1, tzinfo=UTC),
        )
        assert from_data(to_data(row), MedicareIdRow) == row
