"""Small builders of valid enrollment values for tests."""

from __future__ import annotations

from datetime import datetime

from enrollkit import Enrollkit, FixedClock, SequentialIds
from enrollkit.enrollment import (
    Address,
    Application,
    ApplicationContent,
    Form,
    Kind,
    Official,
    OfficialRole,
    PracticeLocation,
    Practitioner,
    Reassignment,
)
from enrollkit.hashing import FAST_INSECURE_PARAMETERS, Argon2Hasher
from enrollkit.npi import NPI
from enrollkit.storage import Storage
from enrollkit.testing.actors import Actors
from tests.conftest import SECRET_KEY, T0

NPI_1 = NPI("1234567893")
MAIN_ST = Address("12 North Main Street", "Springfield", "IL", "62701", line2="Suite 4")
OAK_AVE = Address("400 Oak Avenue", "Springfield", "IL", "62702")


def content_855i(**changes: object) -> ApplicationContent:
    """Content of a complete 855I for Dr Ana Diaz."""
    base: dict[str, object] = {
        "legal_business_name": "",
        "npi": NPI_1,
        "practitioner": Practitioner("Ana", "Diaz", email="ana@example.org"),
        "practice_locations": (PracticeLocation("Main office", MAIN_ST),),
    }
    base.update(changes)
    return ApplicationContent(**base)  # type: ignore[arg-type]


def content_855b(**changes: object) -> ApplicationContent:
    """Content of a complete 855B for Acme Family Medicine PLLC."""
    base: dict[str, object] = {
        "legal_business_name": "Acme Family Medicine PLLC",
        "npi": NPI_1,
        "practice_locations": (PracticeLocation("Main office", MAIN_ST),),
        "officials": (
            Official("Olga Ortiz", OfficialRole.AUTHORIZED_OFFICIAL, "olga@acme.org", "u-ao"),
            Official("Dan Dorsey", OfficialRole.DELEGATED_OFFICIAL, "dan@acme.org", "u-do"),
        ),
    }
    base.update(changes)
    return ApplicationContent(**base)  # type: ignore[arg-type]


def content_855r(**changes: object) -> ApplicationContent:
    """Content of a complete 855R reassigning Dr Diaz's benefits to Acme."""
    return content_855i(
        reassignment=Reassignment("prof-acme"),
        officials=content_855b().officials,
        **changes,
    )


def draft(
    form: Form = Form.CMS_855I,
    kind: Kind = Kind.INITIAL,
    *,
    now: datetime,
    content: ApplicationContent | None = None,
) -> Application:
    """A draft application with complete content for its form."""
    if content is None:
        if form is Form.CMS_855R or kind is Kind.REASSIGNMENT:
            content = content_855r()
        elif form.is_organizational:
            content = content_855b()
        else:
            content = content_855i()
    return Application.start(
        id="app-1",
        profile_id="prof-1",
        form=form,
        kind=kind,
        created_by="u-prep",
        now=now,
        content=content,
    )


def import_kit(storage: Storage) -> tuple[Enrollkit, Actors]:
    """A facade over *storage* for the import tests (fixed clock, sequential ids, fast
    hashing) and the actors that sign in to it."""
    kit = Enrollkit(
        storage=storage,
        secret_key=SECRET_KEY,
        clock=FixedClock(T0),
        ids=SequentialIds(),
        hasher=Argon2Hasher(FAST_INSECURE_PARAMETERS),
    )
    return kit, Actors(kit.runtime)
