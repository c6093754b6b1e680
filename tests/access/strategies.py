"""Hypothesis strategies for the access aggregates (local to the access tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from enrollkit.access import (
    Association,
    AssociationState,
    Connection,
    ConnectionState,
    Employer,
    EmployerKind,
    Grant,
    GrantBasis,
    Invitation,
    InvitationState,
    Organization,
    ProviderProfile,
    Role,
    Side,
    System,
)
from enrollkit.npi import EIN, NPI, NPIType

ids = st.builds(
    "{}-{:06d}".format, st.sampled_from(["org", "prof", "asc", "conn"]), st.integers(0, 999999)
)
names = st.lists(
    st.sampled_from(["Acme", "Ruiz", "Clinic", "L.L.C.", "Ana", "O'Neil", "Hôpital"]),
    min_size=1,
    max_size=4,
).map(" ".join)
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
npis = st.integers(100_000_000, 299_999_999).map(
    lambda n: NPI(str(n) + str(NPI.check_digit_for(str(n))))
)
eins = st.integers(0, 999_999_999).map(lambda n: EIN(f"{n:09d}"))
systems = st.frozensets(st.sampled_from(list(System)))
employers = st.builds(Employer, st.sampled_from(list(EmployerKind)), ids)

organizations = st.builds(
    Organization, ids, names, npi=st.none() | npis, ein=st.none() | eins, version=st.integers(0, 9)
)


@st.composite
def profiles(draw: st.DrawFn) -> ProviderProfile:
    kind = draw(st.sampled_from(list(NPIType)))
    individual = kind is NPIType.INDIVIDUAL
    return ProviderProfile(
        draw(ids),
        draw(npis),
        kind,
        draw(names),
        owner_id=draw(ids) if individual else None,
        organization_id=None if individual else draw(ids),
        version=draw(st.integers(0, 9)),
    )


grants = st.builds(
    Grant,
    st.sampled_from(list(GrantBasis)),
    st.none() | ids,
    st.none() | st.sampled_from(list(Role)),
    moments,
    reference=st.none() | ids,
)

associations = st.builds(
    Association,
    ids,
    ids,
    employers,
    st.sampled_from(list(Role)),
    st.sampled_from(list(AssociationState)),
    requested_at=moments,
    grant=st.none() | grants,
    decided_at=st.none() | moments,
    decided_by=st.none() | ids,
)


@st.composite
def connections(draw: st.DrawFn) -> Connection:
    requested = draw(systems.filter(bool))
    return Connection(
        draw(ids),
        surrogate_id=draw(ids),
        profile_id=draw(ids),
        requested_systems=requested,
        approved_systems=draw(st.frozensets(st.sampled_from(sorted(requested, key=str)))),
        initiator=draw(st.sampled_from(list(Side))),
        requested_by=draw(ids),
        requested_at=draw(moments),
        state=draw(st.sampled_from(list(ConnectionState))),
        decided_at=draw(st.none() | moments),
        decided_by=draw(st.none() | ids),
    )


@st.composite
def invitations(draw: st.DrawFn) -> Invitation:
    sent = draw(moments)
    return Invitation(
        draw(ids),
        draw(employers),
        draw(st.sampled_from(list(Role))),
        name=draw(names),
        email=draw(st.sampled_from(["ana@example.org", "Sam.Staff@Example.COM", "x@y.io"])),
        pin_hash="$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        invited_by=draw(ids),
        sent_at=sent,
        expires_at=sent + timedelta(hours=72),
        max_attempts=5,
        state=draw(st.sampled_from(list(InvitationState))),
        failed_attempts=draw(st.integers(0, 5)),
    )
