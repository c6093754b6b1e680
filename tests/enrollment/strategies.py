"""Hypothesis strategies for enrollment values."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import strategies as st

from enrollkit.enrollment import (
    Address,
    ApplicationContent,
    DocumentRef,
    MediaType,
    Official,
    OfficialRole,
    PracticeLocation,
    Practitioner,
    Reassignment,
    Section,
    SectionField,
)
from enrollkit.npi import NPI

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABC.,", min_size=1, max_size=12).filter(
    lambda s: s.strip() != ""
)
npis = st.from_regex(r"[12][0-9]{8}", fullmatch=True).map(
    lambda b: NPI(b + str(NPI.check_digit_for(b)))
)
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
emails = st.from_regex(r"[a-z]{1,6}@[a-z]{1,6}\.org", fullmatch=True)
addresses = st.builds(
    Address,
    line1=words,
    city=words,
    state=st.sampled_from(["IL", "NY", "TX"]),
    zip_code=st.from_regex(r"[0-9]{5}", fullmatch=True),
    line2=st.none() | words,
)
locations = st.builds(PracticeLocation, name=words, address=addresses)
officials = st.builds(
    Official,
    name=words,
    role=st.sampled_from(OfficialRole),
    email=st.none() | emails,
    account_id=st.none() | st.sampled_from(["u-ao", "u-do", "u-ip"]),
)
practitioners = st.builds(Practitioner, first_name=words, last_name=words, email=st.none() | emails)
contents = st.builds(
    ApplicationContent,
    legal_business_name=st.just("") | words,
    npi=st.none() | npis,
    practitioner=st.none() | practitioners,
    mailing_address=st.none() | addresses,
    practice_locations=st.lists(locations, max_size=3).map(tuple),
    officials=st.lists(officials, max_size=3).map(tuple),
    reassignment=st.none()
    | st.builds(
        Reassignment,
        target_profile_id=st.just("prof-org"),
        effective_date=st.none() | st.dates(date(2020, 1, 1), date(2030, 1, 1)),
    ),
    effective_date=st.none() | st.dates(date(2020, 1, 1), date(2030, 1, 1)),
    sections=st.lists(
        st.builds(
            Section,
            name=words,
            fields=st.lists(st.builds(SectionField, words, words), max_size=2).map(tuple),
        ),
        max_size=2,
    ).map(tuple),
)
sha256s = st.integers(0, 2**256 - 1).map(lambda i: f"{i:064x}")
documents = st.builds(
    DocumentRef,
    id=st.from_regex(r"doc-[0-9]{3}", fullmatch=True),
    filename=words,
    media_type=st.sampled_from(MediaType),
    size=st.integers(1, 10_000),
    sha256=sha256s,
    uploaded_at=moments,
    uploaded_by=st.just("u-prep"),
)
