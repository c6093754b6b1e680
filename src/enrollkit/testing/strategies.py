"""Hypothesis strategies for every enrollkit aggregate (public, for contract runs).

The storage contract suite (:mod:`enrollkit.testing.contract`) round-trips
every collection enrollkit defines with these strategies, so an integrator's
own storage is checked against real aggregates (accounts, connections,
applications, signature sheets...) and not only the suite's own specimens.
Each strategy draws valid aggregates at version 0 in any state of their
state machines; the suite gives each example a fresh id.

This module needs only ``hypothesis`` (and enrollkit); importing
:mod:`enrollkit` never imports it.

>>> from enrollkit.access import CONNECTIONS
>>> print(*sorted(c.name for c, _strategy in DOMAIN_STRATEGIES)[:3])
access_associations access_connections access_invitations
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from hypothesis import strategies as st

from enrollkit import identity
from enrollkit.access import (
    ASSOCIATIONS,
    CLAIMS,
    CONNECTIONS,
    INVITATIONS,
    ORGANIZATIONS,
    PROFILES,
    Association,
    AssociationState,
    ClaimState,
    Connection,
    ConnectionState,
    Employer,
    EmployerKind,
    Grant,
    GrantBasis,
    Invitation,
    InvitationState,
    Organization,
    ProfileClaim,
    ProviderProfile,
    Role,
    Side,
    System,
)
from enrollkit.enrollment import (
    APPLICATIONS,
    ENROLLMENT_RECORDS,
    FORM_KINDS,
    PROVIDER_TYPES_BY_FORM,
    REPORTABLE_CHANGES,
    REPORTING_SYSTEMS,
    Address,
    Application,
    ApplicationContent,
    ApplicationStatus,
    ChangeKind,
    DevelopmentExtension,
    DevelopmentRequest,
    DocumentRef,
    EnrollmentRecord,
    Fact,
    FactSource,
    Form,
    Kind,
    ListedEnrollment,
    LocationPtan,
    MacDecision,
    MediaType,
    NppesAcknowledgement,
    NppesMismatch,
    Official,
    OfficialRole,
    PracticeLocation,
    Practitioner,
    ProviderCategory,
    Reassignment,
    ReassignmentParty,
    RecordReassignment,
    RecordSource,
    RecordStatus,
    ReportableChange,
    Revision,
    Section,
    SectionField,
    month_end,
)
from enrollkit.npi import EIN, NPI, NPIType
from enrollkit.signatures import (
    SIGNATURE_SHEETS,
    RequestStatus,
    Signature,
    SignatureMethod,
    SignatureRequest,
    SignatureSheet,
    signer_slots,
)
from enrollkit.storage import Collection

__all__ = [
    "DOMAIN_STRATEGIES",
    "accounts",
    "addresses",
    "applications",
    "associations",
    "connections",
    "contents",
    "documents",
    "enrollment_ids",
    "enrollment_records",
    "invitations",
    "listed_enrollments",
    "moments",
    "npis",
    "organizations",
    "profile_claims",
    "profiles",
    "reportable_changes",
    "sha256s",
    "signature_sheets",
]

# -- building blocks ---------------------------------------------------------------------

#: Aware UTC moments between 2020 and 2040.
moments: Final = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
_dates: Final = st.dates(date(2000, 1, 1), date(2040, 1, 1))
#: Valid NPIs (Type 1 and Type 2 prefixes), check digit included.
npis: Final = st.from_regex(r"[12][0-9]{8}", fullmatch=True).map(
    lambda base: NPI(base + str(NPI.check_digit_for(base)))
)
_eins = st.integers(0, 999_999_999).map(lambda n: EIN(f"{n:09d}"))
_ids = st.from_regex(r"[a-z]{2,5}-[0-9a-f]{1,8}", fullmatch=True)
_words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ABCÉô.,'&-", min_size=1, max_size=16).filter(
    lambda s: any(c.isalpha() for c in s)
)
_emails = st.from_regex(r"[a-z][a-z0-9.]{0,8}@[a-z]{1,8}\.(org|com|io)", fullmatch=True)
_phones = st.from_regex(r"\+1[0-9]{10}", fullmatch=True)
sha256s: Final = st.integers(0, 2**256 - 1).map(lambda i: f"{i:064x}")
_hashes = st.just("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA")


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


# -- identity ----------------------------------------------------------------------------


@st.composite
def accounts(draw: st.DrawFn) -> identity.Account:
    """I&A accounts in any lock status, with factors, questions and a pending challenge."""
    created = draw(moments)
    factors = tuple(
        identity.MfaFactor(
            f"mfa-{n}",
            kind,
            draw(_emails if kind is identity.FactorKind.EMAIL else _phones),
            created,
            seed=draw(_hashes) if kind is identity.FactorKind.AUTHENTICATOR_APP else None,
            last_step=draw(_maybe(st.integers(0, 2**40))),
        )
        for n, kind in enumerate(draw(st.lists(st.sampled_from(identity.FactorKind), max_size=3)))
    )
    status = draw(st.sampled_from(identity.AccountStatus))
    locked = status is not identity.AccountStatus.ACTIVE
    challenge = None
    with_challenge = draw(st.booleans())
    if factors and with_challenge:
        challenge = identity.LoginChallenge(
            factors[0].id, draw(_hashes), created, created + timedelta(minutes=10)
        )
    return identity.Account(
        draw(_ids),
        draw(st.from_regex(r"[A-Za-z][A-Za-z0-9]{5,11}", fullmatch=True)),
        identity.Profile(
            draw(_words), draw(_words), draw(_emails), tuple(draw(st.lists(_phones, max_size=2)))
        ),
        created,
        draw(_hashes),
        draw(moments),
        tuple(
            identity.SecurityQuestion(q, draw(_hashes))
            for q in draw(st.lists(_words, max_size=3, unique=True))
        ),
        factors,
        password_history=tuple(draw(st.lists(_hashes, max_size=3))),
        must_change_password=draw(st.booleans()),
        status=status,
        lock_reason=draw(st.sampled_from(identity.LockReason)) if locked else None,
        locked_at=draw(moments) if locked else None,
        failed_logins=draw(st.integers(0, 3)),
        failed_codes=draw(st.integers(0, 3)),
        failed_answers=draw(st.integers(0, 3)),
        challenge=challenge,
        pending_email=draw(
            _maybe(st.builds(identity.PendingEmail, _emails, _hashes, moments, st.integers(0, 2)))
        ),
        pending_authenticator=draw(
            _maybe(st.builds(identity.PendingAuthenticator, _ids, _hashes, _words, moments))
        ),
        code_sends=tuple(sorted(draw(st.lists(moments, max_size=5)))),
    )


# -- access ------------------------------------------------------------------------------

#: Claims of individual profiles in every state (RO-9).
profile_claims: Final = st.builds(
    ProfileClaim,
    _ids,
    npis,
    _ids,
    _words,
    st.sampled_from(ClaimState),
    requested_at=moments,
    decided_at=_maybe(moments),
    reference=_maybe(_words),
    reason=_maybe(_words),
    profile_id=_maybe(_ids),
)

#: Organizations with or without an NPI and an EIN (NPI-4).
organizations: Final = st.builds(Organization, _ids, _words, npi=_maybe(npis), ein=_maybe(_eins))


@st.composite
def profiles(draw: st.DrawFn) -> ProviderProfile:
    """Type 1 profiles (owned by an account) and Type 2 profiles (of an organization)."""
    kind = draw(st.sampled_from(NPIType))
    individual = kind is NPIType.INDIVIDUAL
    return ProviderProfile(
        draw(_ids),
        draw(npis),
        kind,
        draw(_words),
        owner_id=draw(_ids) if individual else None,
        organization_id=None if individual else draw(_ids),
    )


_employers = st.builds(Employer, st.sampled_from(EmployerKind), _ids)
_grants = st.builds(
    Grant,
    st.sampled_from(GrantBasis),
    _maybe(_ids),
    _maybe(st.sampled_from(Role)),
    moments,
    reference=_maybe(_ids),
)

#: Associations in every state, with or without grant evidence.
associations: Final = st.builds(
    Association,
    _ids,
    _ids,
    _employers,
    st.sampled_from(Role),
    st.sampled_from(AssociationState),
    requested_at=moments,
    grant=_maybe(_grants),
    decided_at=_maybe(moments),
    decided_by=_maybe(_ids),
)


@st.composite
def connections(draw: st.DrawFn) -> Connection:
    """Connections in every state; pending ones land in the deadline index (CO-5)."""
    requested = draw(st.frozensets(st.sampled_from(System), min_size=1))
    return Connection(
        draw(_ids),
        surrogate_id=draw(_ids),
        profile_id=draw(_ids),
        requested_systems=requested,
        approved_systems=draw(st.frozensets(st.sampled_from(sorted(requested, key=str)))),
        initiator=draw(st.sampled_from(Side)),
        requested_by=draw(_ids),
        requested_at=draw(moments),
        state=draw(st.sampled_from(ConnectionState)),
        decided_at=draw(_maybe(moments)),
        decided_by=draw(_maybe(_ids)),
    )


@st.composite
def invitations(draw: st.DrawFn) -> Invitation:
    """Staff invitations in every state (the PIN only as a hash, RO-7)."""
    sent = draw(moments)
    state = draw(st.sampled_from(InvitationState))
    return Invitation(
        draw(_ids),
        tuple(draw(st.lists(_employers, min_size=1, max_size=3))),
        draw(st.sampled_from(Role)),
        name=draw(_words),
        email=draw(_emails),
        pin_hash=draw(_hashes),
        invited_by=draw(_ids),
        sent_at=sent,
        expires_at=sent + timedelta(hours=72),
        max_attempts=5,
        state=state,
        failed_attempts=draw(st.integers(0, 5)),
        accepted_by=draw(_ids) if state is InvitationState.ACCEPTED else None,
        association_ids=tuple(draw(st.lists(_ids, min_size=1, max_size=3)))
        if state is InvitationState.ACCEPTED
        else (),
        closed_at=None if state is InvitationState.SENT else draw(moments),
    )


# -- enrollment --------------------------------------------------------------------------

addresses: Final = st.builds(
    Address,
    line1=_words,
    city=_words,
    state=st.sampled_from(["IL", "NY", "TX"]),
    zip_code=st.from_regex(r"[0-9]{5}", fullmatch=True),
    line2=_maybe(_words),
)
contents: Final = st.builds(
    ApplicationContent,
    legal_business_name=st.just("") | _words,
    npi=_maybe(npis),
    practitioner=_maybe(
        st.builds(Practitioner, first_name=_words, last_name=_words, email=_maybe(_emails))
    ),
    mailing_address=_maybe(addresses),
    practice_locations=st.lists(
        st.builds(PracticeLocation, name=_words, address=addresses), max_size=2
    ).map(tuple),
    officials=st.lists(
        st.builds(
            Official,
            name=_words,
            role=st.sampled_from(OfficialRole),
            email=_maybe(_emails),
            account_id=_maybe(_ids),
        ),
        max_size=2,
    ).map(tuple),
    reassignment=_maybe(
        st.builds(
            Reassignment,
            target_profile_id=_ids,
            effective_date=_maybe(_dates),
            terminated_by=_maybe(st.sampled_from(ReassignmentParty)),
        )
    ),
    effective_date=_maybe(_dates),
    sections=st.lists(
        st.builds(
            Section,
            name=_words,
            fields=st.lists(st.builds(SectionField, _words, _words), max_size=2).map(tuple),
        ),
        max_size=2,
    ).map(tuple),
)
documents: Final = st.builds(
    DocumentRef,
    id=_ids,
    filename=_words,
    media_type=st.sampled_from(MediaType),
    size=st.integers(1, 10_000_000),
    sha256=sha256s,
    uploaded_at=moments,
    uploaded_by=_ids,
)


@st.composite
def applications(draw: st.DrawFn) -> Application:
    """Applications in any status, with revisions, development requests and decisions;
    open development requests and approvals land in the ordered deadline indexes."""
    created = draw(moments)
    revisions = tuple(
        Revision(
            number=n + 1,
            digest=draw(sha256s),
            frozen_at=draw(moments),
            frozen_by=draw(_ids),
            content=draw(contents),
            documents=tuple(draw(st.lists(documents, max_size=1))),
        )
        for n in range(draw(st.integers(0, 2)))
    )
    form = draw(st.sampled_from(Form))
    return Application(
        id=draw(_ids),
        profile_id=draw(_ids),
        form=form,
        kind=draw(st.sampled_from(sorted(FORM_KINDS[form], key=lambda k: k.value))),
        provider_type=draw(st.sampled_from(PROVIDER_TYPES_BY_FORM[form])),
        created_by=draw(_ids),
        created_at=created,
        status_changed_at=draw(moments),
        content=draw(contents),
        documents=tuple(draw(st.lists(documents, max_size=2))),
        status=draw(st.sampled_from(ApplicationStatus)),
        revisions=revisions,
        submitted_at=draw(_maybe(moments)),
        development=draw(
            _maybe(
                st.builds(
                    DevelopmentRequest,
                    requested_at=moments,
                    due_at=moments,
                    reason=_words,
                    responded_at=_maybe(moments),
                    extensions=st.lists(
                        st.builds(
                            DevelopmentExtension,
                            by=_ids,
                            at=moments,
                            previous_due_at=moments,
                            due_at=moments,
                            reason=_words,
                        ),
                        max_size=2,
                    ).map(tuple),
                )
            )
        ),
        nppes_acknowledgement=draw(
            _maybe(
                st.builds(
                    NppesAcknowledgement,
                    by=_ids,
                    at=moments,
                    mismatches=st.lists(
                        st.builds(NppesMismatch, _words, _words, _words, st.booleans()),
                        max_size=2,
                    ).map(tuple),
                )
            )
        ),
        decision=draw(
            _maybe(
                st.builds(
                    MacDecision,
                    approved=st.booleans(),
                    decided_at=moments,
                    ptan=_maybe(_ids),
                    medicare_id=_maybe(_ids),
                    effective_date=_maybe(_dates),
                    reason=_maybe(_words),
                    revalidation_due=_maybe(_dates.map(month_end)),
                )
            )
        ),
    )


#: Reportable changes, open or reported (EN-7).
reportable_changes: Final = st.builds(
    ReportableChange,
    id=_ids,
    profile_id=_ids,
    form=st.sampled_from(Form),
    change=st.sampled_from(ChangeKind),
    occurred_on=_dates,
    description=_words,
    recorded_by=_ids,
    recorded_at=moments,
    system=st.sampled_from(sorted(REPORTING_SYSTEMS, key=lambda s: s.value)),
    category=st.sampled_from(ProviderCategory),
    new_value=_maybe(_words),
    counterpart_id=_maybe(_ids),
    reported_at=_maybe(moments),
)

# -- signatures --------------------------------------------------------------------------

_slots = st.sampled_from(
    [
        slot
        for form in Form
        for kind in sorted(FORM_KINDS[form], key=lambda k: k.value)
        for party in (None, *ReassignmentParty)
        for provider_type in PROVIDER_TYPES_BY_FORM[form]
        if (kind is Kind.REASSIGNMENT_TERMINATION) == (party is not None)
        for slot in signer_slots(
            form, kind, reassignment=False, terminated_by=party, provider_type=provider_type
        )
    ]
)
_requests = st.builds(
    SignatureRequest,
    id=_ids,
    slot=_slots,
    revision=st.integers(1, 9),
    digest=sha256s,
    opened_at=moments,
    candidates=st.lists(_ids, max_size=3, unique=True).map(tuple),
    status=st.sampled_from(RequestStatus),
    closed_at=_maybe(moments),
    decline_reason=_maybe(_words),
    paper_signers=st.lists(_words, max_size=2).map(tuple),
)
_signatures = st.builds(
    Signature,
    id=_ids,
    request_id=_ids,
    slot=st.sampled_from(["individual", "authorized_official"]),
    signer_id=_maybe(_ids),
    role=_maybe(st.sampled_from(Role)),
    record_role=_maybe(st.sampled_from(OfficialRole)),
    method=st.sampled_from(SignatureMethod),
    signed_at=moments,
    revision=st.integers(1, 9),
    digest=sha256s,
    statement_sha256=_maybe(sha256s),
    uploaded_by=_maybe(_ids),
    superseded_at=_maybe(moments),
    signer_name=_maybe(_words),
)

#: Signature sheets with open and closed requests and signatures (open requests'
#: candidates land in the ``awaiting_signer`` index).
signature_sheets: Final = st.builds(
    SignatureSheet,
    id=_ids,
    requests=st.lists(_requests, max_size=3).map(tuple),
    signatures=st.lists(_signatures, max_size=3).map(tuple),
)

# -- every collection --------------------------------------------------------------------


#: PECOS enrollment IDs (EN-10): I or O, a creation date, a 6-digit sequence.
enrollment_ids: Final = st.builds(
    lambda letter, day, seq: f"{letter}{day:%Y%m%d}{seq:06d}",
    st.sampled_from("IO"),
    _dates,
    st.integers(0, 999_999),
)
_reassignments = st.builds(
    RecordReassignment,
    individual_enrollment_id=enrollment_ids,
    receiving_enrollment_id=enrollment_ids,
    since=_dates,
    until=_maybe(_dates),
)
_fact_sources = st.builds(
    FactSource,
    fact=st.sampled_from(Fact),
    source=st.sampled_from(RecordSource),
    reference=_words,
    recorded_at=moments,
)


@st.composite
def enrollment_records(draw: st.DrawFn) -> EnrollmentRecord:
    """Enrollment records in every status, with PTANs, reassignments, due dates or TBD,
    and fact sources (EN-10)."""
    enrollment_id = draw(enrollment_ids)
    return EnrollmentRecord(
        id=enrollment_id,
        enrollment_id=enrollment_id,
        npi=draw(npis),
        state=draw(st.sampled_from(["MD", "VA", "CA", "NY", ""])),
        enrollment_type=draw(st.sampled_from(["1", "2", "3"])),
        provider_type=draw(_words),
        specialty=draw(_words),
        first_name=draw(_words),
        last_name=draw(_words),
        organization_name=draw(st.just("") | _words),
        status=draw(st.sampled_from(RecordStatus)),
        status_since=draw(_maybe(_dates)),
        effective_date=draw(_maybe(_dates)),
        ptans=tuple(
            draw(st.lists(st.builds(LocationPtan, ptan=_ids, location=_words), max_size=2))
        ),
        reassignments=tuple(draw(st.lists(_reassignments, max_size=2))),
        employer_associations=draw(_maybe(st.integers(0, 500))),
        group_reassignments=draw(_maybe(st.integers(0, 5000))),
        revalidation_due=draw(_maybe(_dates.map(month_end))),
        adjusted_due=draw(_maybe(_dates.map(month_end))),
        revalidation_filed_on=draw(_maybe(_dates)),
        development_due_on=draw(_maybe(_dates)),
        listed=draw(st.booleans()),
        sources=tuple(draw(st.lists(_fact_sources, max_size=3))),
    )


#: Cell text as CMS writes it: letters, spaces and punctuation, quotes and commas included.
_cells = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ abc-,.'\"&/", max_size=20).map(str.strip)


@st.composite
def listed_enrollments(draw: st.DrawFn, *, line: int = 0) -> ListedEnrollment:
    """Rows of CMS's revalidation due-date list (EN-10): due dates at month ends or TBD."""
    organization = draw(st.booleans())
    return ListedEnrollment(
        line=line,
        enrollment_id=draw(enrollment_ids),
        npi=draw(npis),
        first_name="" if organization else draw(_cells),
        last_name="" if organization else draw(_cells),
        organization_name=draw(_cells) if organization else "",
        state=draw(st.sampled_from(["MD", "VA", "CA", "NY", "TX"])),
        enrollment_type=draw(st.sampled_from(["1", "2", "3"])),
        provider_type=draw(_cells),
        specialty=draw(_cells),
        revalidation_due=draw(_maybe(_dates.map(month_end))),
        adjusted_due=draw(_maybe(_dates.map(month_end))),
        employer_associations=draw(_maybe(st.integers(0, 500))),
        group_reassignments=draw(_maybe(st.integers(0, 5000))),
    )


#: Every collection enrollkit defines, with a strategy for its aggregates (the contract
#: suite's default round-trip cases are built from this).
DOMAIN_STRATEGIES: Final[tuple[tuple[Collection[Any], st.SearchStrategy[Any]], ...]] = (
    (identity.ACCOUNTS, accounts()),
    (ORGANIZATIONS, organizations),
    (PROFILES, profiles()),
    (ASSOCIATIONS, associations),
    (INVITATIONS, invitations()),
    (CONNECTIONS, connections()),
    (CLAIMS, profile_claims),
    (APPLICATIONS, applications()),
    (REPORTABLE_CHANGES, reportable_changes),
    (SIGNATURE_SHEETS, signature_sheets),
    (ENROLLMENT_RECORDS, enrollment_records()),
)
