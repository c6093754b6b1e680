"""A small world of access facts for enrollment and signature tests.

* Dr Ana Diaz (``u-ana``) owns the Type 1 profile ``prof-ana``.
* Acme Family Medicine PLLC (``org-acme``) has the Type 2 profile ``prof-acme``;
  ``u-ao`` is its AO, ``u-do`` its AM (listed as DO), ``u-seu`` an SEU.
* CredCo (``org-cred``), a credentialing company without NPI, employs ``u-cred``
  (its AO); it has approved PECOS connections to both profiles.
* ``u-stranger`` has nothing.
"""

from __future__ import annotations

from enrollkit import Enrollkit
from enrollkit.access import (
    ASSOCIATIONS,
    CONNECTIONS,
    ORGANIZATIONS,
    PROFILES,
    Association,
    AssociationState,
    Connection,
    ConnectionState,
    Employer,
    Organization,
    ProviderProfile,
    Role,
    Side,
    System,
)
from enrollkit.enrollment import (
    Application,
    ApplicationContent,
    DocumentKind,
    EnrollmentService,
    NppesRecord,
    Official,
    OfficialRole,
    PracticeLocation,
    Practitioner,
    Reassignment,
)
from enrollkit.npi import NPI, NPIType
from enrollkit.principals import Principal
from enrollkit.runtime import Runtime
from enrollkit.testing.actors import Actors
from tests.conftest import T0
from tests.enrollment.factories import MAIN_ST

NPI_ANA = NPI("1234567893")
NPI_ACME = NPI("1987654328")

OFFICIALS = (
    Official("Olga Ortiz", OfficialRole.AUTHORIZED_OFFICIAL, "olga@acme.org", "u-ao"),
    Official("Dan Dorsey", OfficialRole.DELEGATED_OFFICIAL, "dan@acme.org", "u-do"),
    Official("Sam Staff", OfficialRole.DELEGATED_OFFICIAL, "sam@acme.org", "u-seu"),
)
ANA = Practitioner("Ana", "Diaz", email="ana@example.org")
EMAILS = {
    "u-ana": "ana@example.org",
    "u-ao": "olga@acme.org",
    "u-do": "dan@acme.org",
    "u-seu": "sam@acme.org",
}
#: Everyone the enrollment and signature tests name; each is an account (AC-8).
CAST = ("u-ana", "u-ao", "u-do", "u-seu", "u-cred", "u-stranger", "u-prep")


def ana_855i(**changes: object) -> ApplicationContent:
    """Dr Diaz's individual enrollment content."""
    base: dict[str, object] = {
        "npi": NPI_ANA,
        "practitioner": ANA,
        "practice_locations": (PracticeLocation("Main office", MAIN_ST),),
    }
    base.update(changes)
    return ApplicationContent(**base)  # type: ignore[arg-type]


def ana_855r(**changes: object) -> ApplicationContent:
    """Dr Diaz reassigning her benefits to Acme (officials of Acme listed for 4B)."""
    return ana_855i(reassignment=Reassignment("prof-acme"), officials=OFFICIALS, **changes)


def acme_855b(**changes: object) -> ApplicationContent:
    """Acme's group enrollment content."""
    base: dict[str, object] = {
        "legal_business_name": "Acme Family Medicine PLLC",
        "npi": NPI_ACME,
        "practice_locations": (PracticeLocation("Main office", MAIN_ST),),
        "officials": OFFICIALS,
    }
    base.update(changes)
    return ApplicationContent(**base)  # type: ignore[arg-type]


NPPES_RECORDS = (
    NppesRecord(NPI_ANA, "Ana Diaz", practice_addresses=(MAIN_ST,)),
    NppesRecord(NPI_ACME, "Acme Family Medicine PLLC", practice_addresses=(MAIN_ST,)),
)


def build_world(runtime: Runtime) -> None:
    """Store the world's organizations, profiles, associations and connections."""
    with runtime.transaction() as tx:
        tx.repo(ORGANIZATIONS).add(
            Organization("org-acme", "Acme Family Medicine PLLC", npi=NPI_ACME, ein=None)
        )
        tx.repo(ORGANIZATIONS).add(Organization("org-cred", "CredCo LLC", npi=None, ein=None))
        tx.repo(PROFILES).add(
            ProviderProfile("prof-ana", NPI_ANA, NPIType.INDIVIDUAL, "Ana Diaz", "u-ana", None)
        )
        tx.repo(PROFILES).add(
            ProviderProfile(
                "prof-acme",
                NPI_ACME,
                NPIType.ORGANIZATION,
                "Acme Family Medicine PLLC",
                None,
                "org-acme",
            )
        )
        for number, (user, org, role) in enumerate(
            [
                ("u-ao", "org-acme", Role.AUTHORIZED_OFFICIAL),
                ("u-do", "org-acme", Role.ACCESS_MANAGER),
                ("u-seu", "org-acme", Role.STAFF_END_USER),
                ("u-cred", "org-cred", Role.AUTHORIZED_OFFICIAL),
            ]
        ):
            tx.repo(ASSOCIATIONS).add(
                Association(
                    f"assoc-{number}",
                    user,
                    Employer.organization(org),
                    role,
                    AssociationState.ACTIVE,
                    T0,
                )
            )
        for profile in ("prof-ana", "prof-acme"):
            tx.repo(CONNECTIONS).add(
                Connection(
                    f"conn-{profile}",
                    surrogate_id="org-cred",
                    profile_id=profile,
                    requested_systems=frozenset({System.PECOS}),
                    approved_systems=frozenset({System.PECOS}),
                    initiator=Side.SURROGATE,
                    requested_by="u-cred",
                    requested_at=T0,
                    state=ConnectionState.APPROVED,
                    decided_at=T0,
                )
            )
        tx.commit()


class Kit:
    """The runtime, both services and their in-memory ports, on a built world."""

    def __init__(self, runtime: Runtime) -> None:
        from enrollkit.enrollment import (
            EnrollmentService,
            InMemoryDocumentStore,
            InMemoryNppesDirectory,
        )
        from enrollkit.signatures import SignatureService

        self.runtime = runtime
        self.actors = Actors(runtime)
        for account in CAST:
            self.actors.account(account, email=EMAILS.get(account))
        self.nppes = InMemoryNppesDirectory({r.npi: r for r in NPPES_RECORDS})
        self.documents = InMemoryDocumentStore()
        self.enrollment = EnrollmentService(runtime, documents=self.documents, nppes=self.nppes)
        self.signatures = SignatureService(runtime, documents=self.documents, nppes=self.nppes)
        build_world(runtime)

    def actor(self, account_id: str) -> Principal:
        """The principal of cast member *account_id* (AC-8), authenticated now."""
        return self.actors(account_id)

    def mac(self) -> Principal:
        """A MAC reviewer's principal (EN-4)."""
        return self.actors.mac()

    def digest(self, application_id: str) -> str:
        """The digest of the application's current revision: what a signer reviewed (SG-9);
        zeros before the first revision (nothing can be signed then)."""
        revision = self.enrollment.get(application_id).current_revision
        return revision.digest if revision is not None else "0" * 64

    def attach_required(self, application_id: str, *, actor: Principal) -> None:
        """Attach, as *actor*, one document of each kind the checklist still wants and the
        fee receipt where one is due (EN-13, EN-15), as a preparer would before sending."""
        attach_required(self.enrollment, application_id, actor=actor)

    def send(self, application_id: str, *, actor: Principal) -> Application:
        """Attach what the checklist wants (EN-13, EN-15), then send for signature (SG-2)."""
        self.attach_required(application_id, actor=actor)
        return self.signatures.send_for_signature(application_id, actor=actor)

    def events(self, subject: str) -> list[str]:
        """Names of the committed audit events about *subject*."""
        return [e.event.name for e in self.runtime.storage.audit.for_subject(subject)]


def attach_required(
    enrollment: EnrollmentService, application_id: str, *, actor: Principal
) -> None:
    """Attach, as *actor*, a small PDF for each checklist line the application misses and
    the fee receipt where the fee is due and not covered (EN-13, EN-15)."""
    status = enrollment.requirements_of(application_id, actor=actor)
    kinds = [
        min(r.accepts, key=lambda k: k.value) for r in status.required if r.name in status.missing
    ]
    if status.fee is not None and not status.fee_covered:
        kinds.append(DocumentKind.FEE_RECEIPT)
    for kind in kinds:
        enrollment.attach_document(
            application_id,
            actor=actor,
            filename=f"{kind.value}.pdf",
            data=b"%PDF-1.7\n" + kind.value.encode() + b"\n%%EOF\n",
            kind=kind,
        )


def send(kit: Enrollkit, application_id: str, *, actor: Principal) -> Application:
    """On the facade: attach what the checklist wants (EN-13, EN-15), send for signature."""
    attach_required(kit.enrollment, application_id, actor=actor)
    return kit.signatures.send_for_signature(application_id, actor=actor)
