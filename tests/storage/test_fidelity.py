"""The amended rules of the fidelity issue, end to end on every shipped adapter.

One story through the :class:`~enrollkit.Enrollkit` facade, on in-memory storage,
SQLite and PostgreSQL, then read back through a second storage object opened on the
same file or schema, so what the rules decided is what storage keeps: RO-5 (the
provider's office manager as her Access Manager), RO-7 (one invitation, several
employers), CO-9 (My Pending Connections; Approve All Selected rolls back as a whole),
EN-6 (information never blocks), SG-3 (a paper signature for an official without an
account, and the agenda's warning), EN-7 (CMS's revalidation date; a MAC extension),
EN-12 (the organization terminates a reassignment alone) and EN-14 (the NPPES twin of a
PECOS change, met once NPPES shows it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from enrollkit import Enrollkit, FixedClock, InMemoryNotifier, SequentialIds
from enrollkit.access import (
    Action,
    Employer,
    InMemoryProofer,
    InMemoryVerifier,
    Role,
    System,
    VerificationStatus,
)
from enrollkit.adapters.memory import MemoryStorage
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.enrollment import (
    Address,
    ApplicationContent,
    ApplicationStatus,
    ChangeKind,
    Form,
    InMemoryNppesDirectory,
    Kind,
    NppesRecord,
    Official,
    OfficialRole,
    PracticeLocation,
    Practitioner,
    Reassignment,
    ReassignmentParty,
)
from enrollkit.errors import EnrollkitError
from enrollkit.hashing import FAST_INSECURE_PARAMETERS, Argon2Hasher
from enrollkit.npi import NPI, NPIType
from enrollkit.signatures import Attestation, SignatureMethod
from enrollkit.storage import Storage
from enrollkit.testing.actors import Actors
from tests.conftest import SECRET_KEY
from tests.enrollment.world import send
from tests.storage.pg import drop_schemas, new_schema, require_dsn

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANA_NPI, PLLC_NPI = NPI("1234567893"), NPI("1245319599")
OFFICE = Address("480 Harbor Boulevard", "Annapolis", "MD", "21401", line2="Suite 210")
ANNEX = Address("12 Dock Street", "Annapolis", "MD", "21401")
PDF = b"%PDF-1.7 wet-ink certification statement"

Opener = Callable[[], Storage]


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the same store again and again (memory: the one object); closes them all."""
    opened: list[Storage] = []

    def keep(storage: Storage) -> Storage:
        opened.append(storage)
        return storage

    schema = None
    if request.param == "memory":
        memory = MemoryStorage()
        yield lambda: memory
    elif request.param == "sqlite":
        path = tmp_path / "fidelity.db"
        yield lambda: keep(SQLiteStorage(path))
    else:
        from enrollkit.adapters.postgres import PostgresStorage

        dsn = require_dsn()
        schema = new_schema()
        yield lambda: keep(PostgresStorage(dsn, schema=schema))
    for storage in opened:
        storage.close()
    if schema is not None:
        drop_schemas(require_dsn(), [schema])


@attrs.define
class Story:
    kit: Enrollkit
    clock: FixedClock
    outbox: InMemoryNotifier
    nppes: InMemoryNppesDirectory
    actors: Actors


def story(storage: Storage, clock: FixedClock, nppes: InMemoryNppesDirectory) -> Story:
    outbox = InMemoryNotifier()
    kit = Enrollkit(
        storage=storage,
        secret_key=SECRET_KEY,
        clock=clock,
        notifier=outbox,
        ids=SequentialIds(),
        nppes=nppes,
        verifier=InMemoryVerifier(default=VerificationStatus.VERIFIED),
        proofer=InMemoryProofer(default=VerificationStatus.VERIFIED),
        hasher=Argon2Hasher(FAST_INSECURE_PARAMETERS),
    )
    actors = Actors(kit.runtime)
    return Story(kit, clock, outbox, nppes, actors)


def test_fidelity_rules_hold_and_persist_on_every_adapter(opener: Opener) -> None:
    """RO-5, RO-7, CO-9, EN-6, SG-3, EN-7, EN-12, EN-14 on this adapter, read back."""
    clock = FixedClock(T0)
    nppes = InMemoryNppesDirectory()
    s = story(opener(), clock, nppes)
    kit, actors = s.kit, s.actors
    for who, email in [
        ("ana", "ana@rp.example"),
        ("omar", "omar@rp.example"),
        ("ben", "ben@rp.example"),
        ("carla", "carla@summit.example"),
        ("sue", "sue@rp.example"),
    ]:
        actors.account(who, email=email)
    nppes.put(
        NppesRecord(ANA_NPI, first_name="Ana", last_name="Rivera", npi_type=NPIType.INDIVIDUAL)
    )
    nppes.put(
        NppesRecord(
            PLLC_NPI,
            "Rivera Pediatrics PLLC",
            practice_addresses=(OFFICE,),
            npi_type=NPIType.ORGANIZATION,
        )
    )
    individual = kit.access.claim_individual_profile(
        actor=actors("ana"), npi=ANA_NPI, legal_name="Ana Rivera MD"
    ).profile
    assert individual is not None
    pllc = kit.access.register_organization(
        actor=actors("ana"), legal_name="Rivera Pediatrics PLLC", npi=PLLC_NPI
    )
    assert pllc.profile is not None
    kit.access.request_association(  # verified at once by the help desk's verifier (RO-3)
        actor=actors("ben"),
        employer=Employer.organization(pllc.organization.id),
        role=Role.AUTHORIZED_OFFICIAL,
    )
    summit = kit.access.register_organization(
        actor=actors("carla"), legal_name="Summit Credentialing LLC", ein="47-1234567"
    )

    # RO-5 amended: the provider makes her office manager Access Manager of her profile.
    asked = kit.access.request_association(
        actor=actors("omar"),
        employer=Employer.individual_provider(individual.id),
        role=Role.ACCESS_MANAGER,
    )
    kit.access.approve_association(actor=actors("ana"), association_id=asked.id)
    assert kit.access.decide(
        user_id="omar", action=Action.MANAGE_CONNECTIONS, profile_id=individual.id
    ).allowed

    # RO-7 amended: one invitation, one PIN, both of Ana's employers.
    invitation = kit.access.invite(
        actor=actors("ana"),
        employers=[
            Employer.organization(pllc.organization.id),
            Employer.individual_provider(individual.id),
        ],
        name="Sue Staff",
        email="sue@rp.example",
        role=Role.STAFF_END_USER,
    )
    mail = s.outbox.last("sue@rp.example", "access.invitation")
    assert mail is not None and mail.secret is not None
    joined = kit.access.accept_invitation(
        actor=actors("sue"), invitation_id=invitation.id, email="sue@rp.example", pin=mail.secret
    )
    assert len(joined) == 2

    # CO-9: My Pending Connections; a batch with one bad choice changes nothing.
    asks = [
        kit.access.request_connection(
            actor=actors("carla"),
            surrogate_id=summit.organization.id,
            profile_id=profile_id,
            systems=[System.PECOS, System.NPPES],
        )
        for profile_id in (individual.id, pllc.profile.id)
    ]
    listed = kit.access.pending_for(actor=actors("ana"))
    assert [r.connection_id for r in listed] == [c.id for c in asks]
    assert [r.connection_id for r in kit.access.pending_for(actor=actors("omar"))] == [asks[0].id]
    with pytest.raises(EnrollkitError) as refused:
        kit.access.approve_selected(
            actor=actors("ana"), selections={asks[0].id: None, asks[1].id: [System.EHR]}
        )
    assert refused.value.fields["connection_id"] == asks[1].id
    fresh = story(opener(), clock, nppes).kit  # what storage kept: nothing approved
    assert [r.connection_id for r in fresh.access.pending_for(actor=actors("ana"))] == [
        c.id for c in asks
    ]
    kit.access.approve_selected(
        actor=actors("ana"), selections={asks[0].id: None, asks[1].id: [System.PECOS]}
    )
    assert kit.access.pending_for(actor=actors("ana")) == ()

    # EN-6 amended and SG-3 amended: an 855B whose AO has no account, with an annex
    # NPPES does not list (information); it goes out, the agenda warns, paper signs it.
    grace = Official("Grace Lee", OfficialRole.AUTHORIZED_OFFICIAL, email="grace@rp.example")
    app = kit.enrollment.create(
        actor=actors("sue"),
        profile_id=pllc.profile.id,
        form=Form.CMS_855B,
        kind=Kind.INITIAL,
        content=ApplicationContent(
            legal_business_name="Rivera Pediatrics PLLC",
            npi=PLLC_NPI,
            practice_locations=(
                PracticeLocation("Harbor office", OFFICE),
                PracticeLocation("Dock annex", ANNEX),
            ),
            officials=(grace,),
        ),
    )
    (info,) = kit.enrollment.check_nppes(app.id, actor=actors("sue"))
    assert (info.field, info.blocking) == ("practice_locations[1]", False)
    app = send(kit, app.id, actor=actors("sue"))
    assert s.outbox.last("grace@rp.example", "signature.paper_requested") is not None
    (warning,) = [i for i in kit.agenda(for_profile=pllc.profile.id) if i.kind == "signature.paper"]
    assert "Grace Lee" in warning.title and "slower" in warning.title
    clock.advance(days=6)
    assert app.current_revision is not None
    app = kit.signatures.sign_on_paper(
        app.id,
        actor=actors("sue"),
        slot="authorized_official",
        digest=app.current_revision.digest,
        signer_name="Grace Lee",
        filename="statement.pdf",
        data=PDF,
    )
    assert app.status is ApplicationStatus.SUBMITTED

    # EN-7 amended: CMS's revalidation date, kept as assigned.
    mac = actors.mac()
    kit.enrollment.start_review(app.id, actor=mac)
    kit.enrollment.approve(app.id, actor=mac, ptan="PT-B", revalidation_due=date(2031, 3, 31))

    # EN-12: the organization terminates Ana's reassignment alone; only its slot signs.
    ben_listed = Official("Ben Okafor", OfficialRole.AUTHORIZED_OFFICIAL, "ben@rp.example", "ben")
    ending = kit.enrollment.create(
        actor=actors("ben"),
        profile_id=individual.id,
        form=Form.CMS_855R,
        kind=Kind.REASSIGNMENT_TERMINATION,
        content=ApplicationContent(
            npi=ANA_NPI,
            practitioner=Practitioner("Ana", "Rivera", email="ana@rp.example"),
            reassignment=Reassignment(
                pllc.profile.id, terminated_by=ReassignmentParty.ORGANIZATION
            ),
            officials=(ben_listed,),
        ),
    )
    ending = send(kit, ending.id, actor=actors("ben"))
    assert [r.slot.name for r in kit.signatures.sheet(ending.id).open_requests()] == [
        "receiving_organization"
    ]
    assert ending.current_revision is not None
    ending = kit.signatures.sign_electronically(
        ending.id,
        actor=actors("ben"),
        slot="receiving_organization",
        digest=ending.current_revision.digest,
        confirmed_email="ben@rp.example",
        attestations=set(Attestation),
    )
    assert ending.status is ApplicationStatus.SUBMITTED
    # EN-7: the MAC asks for a correction and extends its due date.
    kit.enrollment.start_review(ending.id, actor=mac)
    asked_dev = kit.enrollment.request_development(ending.id, actor=mac, reason="Effective date")
    original = asked_dev.development_due()
    assert original is not None
    kit.enrollment.extend_development(
        ending.id, actor=mac, due_at=original + timedelta(days=15), reason="Asked for"
    )

    # EN-14: a PECOS legal-name change records its NPPES twin, met once NPPES shows it.
    renamed = kit.enrollment.record_change(
        actor=actors("ana"),
        profile_id=pllc.profile.id,
        form=Form.CMS_855B,
        change=ChangeKind.LEGAL_NAME,
        occurred_on=clock.now().date(),
        description="Renamed",
        new_value="Rivera Children's Health PLLC",
    )

    pllc_profile_id = pllc.profile.id

    def nppes_to_dos(kit: Enrollkit) -> list[str]:
        return [
            i.title
            for i in kit.agenda(for_profile=pllc_profile_id)
            if i.kind == "change.report" and "to NPPES" in i.title
        ]

    assert len(nppes_to_dos(kit)) == 1

    # Read everything back through a second storage object on the same store.
    again = story(opener(), clock, nppes)
    k2 = again.kit
    record = k2.enrollment.approved_record(app.id, actor=actors("ana"))
    assert (record.revalidation_due, record.revalidation_due_assigned) == (date(2031, 3, 31), True)
    (paper,) = k2.signatures.sheet(app.id).signatures
    assert (paper.method, paper.signer_name, paper.signer_id, paper.role) == (
        SignatureMethod.PAPER,
        "Grace Lee",
        None,
        None,
    )
    assert k2.signatures.certificate(app.id, actor=actors("ana")).verified
    development = k2.enrollment.get(ending.id).development
    assert development is not None
    (extension,) = development.extensions
    assert (extension.previous_due_at, extension.by) == (original, "mac:mac")
    assert k2.enrollment.get(ending.id).terminating_party is ReassignmentParty.ORGANIZATION
    assert k2.access.invitation(invitation.id).employers == invitation.employers
    twins = {c.id: c for c in k2.enrollment.changes(pllc.profile.id, actor=actors("ana"))}
    assert renamed.counterpart_id in twins
    assert twins[renamed.counterpart_id].system is System.NPPES
    nppes.put(
        NppesRecord(
            PLLC_NPI,
            "RIVERA CHILDREN'S HEALTH, PLLC",
            practice_addresses=(OFFICE,),
            npi_type=NPIType.ORGANIZATION,
        )
    )
    assert nppes_to_dos(k2) == []
    assert k2.verify_audit().ok
