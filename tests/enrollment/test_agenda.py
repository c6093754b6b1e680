"""EN-9 (with EN-4, EN-7, CO-5, RO-7, SG-2): one agenda, moved day by day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from dateutil.relativedelta import relativedelta

from enrollkit.access import (
    ASSOCIATIONS,
    ORGANIZATIONS,
    AccessService,
    Association,
    AssociationState,
    Employer,
    Organization,
    Role,
    System,
)
from enrollkit.clock import FixedClock
from enrollkit.enrollment import (
    DEFAULT_HORIZON_DAYS,
    Agenda,
    AgendaItem,
    ChangeKind,
    Form,
    Kind,
    month_end,
    password_expiry_source,
)
from enrollkit.runtime import Runtime
from enrollkit.signatures import Attestation, agenda_sources
from tests.conftest import T0
from tests.enrollment.world import EMAILS, Kit, acme_855b

BOTH = set(Attestation)


@pytest.fixture
def kit(runtime: Runtime) -> Kit:
    kit = Kit(runtime)
    with runtime.transaction() as tx:
        tx.repo(ORGANIZATIONS).add(Organization("org-other", "Other Cred LLC", npi=None, ein=None))
        tx.repo(ASSOCIATIONS).add(
            Association(
                "assoc-other",
                "u-other",
                Employer.organization("org-other"),
                Role.AUTHORIZED_OFFICIAL,
                AssociationState.ACTIVE,
                T0,
            )
        )
        tx.commit()
    return kit


def kinds(items: tuple[AgendaItem, ...]) -> dict[str, int]:
    return {item.kind: item.days_left for item in items}


class TestAgendaDayByDay:
    def test_en_9_each_deadline_with_days_left_and_dropped_when_met(
        self, kit: Kit, clock: FixedClock
    ) -> None:
        """Signature (SG-2), invitation PIN (RO-7), change report (EN-7), pending connection
        (CO-5), development response (EN-4) and revalidation (EN-7): right days left every
        day, each dropped when met or passed."""
        access = AccessService(kit.runtime)
        agenda = Agenda(kit.runtime, sources=agenda_sources())
        app = kit.enrollment.create(
            actor=kit.actor("u-ao"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            kind=Kind.INITIAL,
            content=acme_855b(),
        )
        kit.send(app.id, actor=kit.actor("u-ao"))
        access.request_connection(
            actor=kit.actor("u-other"),
            surrogate_id="org-other",
            profile_id="prof-acme",
            systems={System.PECOS},
        )
        access.invite(
            actor=kit.actor("u-ao"),
            employers=Employer.organization("org-acme"),
            name="Sue Staff",
            email="sue@acme.org",
            role=Role.STAFF_END_USER,
        )
        change = kit.enrollment.record_change(
            actor=kit.actor("u-seu"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            change=ChangeKind.PRACTICE_LOCATION,
            occurred_on=T0.date() - timedelta(days=10),
            description="Annex opened",
        )
        approved_on: date | None = None
        for day in range(41):
            clock.set(T0 + timedelta(days=day))
            # What happens on this day, before reading the agenda.
            if day == 5:
                kit.signatures.sign_electronically(
                    app.id,
                    actor=kit.actor("u-ao"),
                    digest=kit.digest(app.id),
                    slot="authorized_official",
                    confirmed_email=EMAILS["u-ao"],
                    attestations=BOTH,
                )
            elif day == 6:
                kit.enrollment.start_review(app.id, actor=kit.mac())
            elif day == 7:
                kit.enrollment.request_development(
                    app.id, actor=kit.mac(), reason="Add the annex license"
                )
            elif day == 12:  # reported to PECOS and, independently, to NPPES (EN-14)
                assert change.counterpart_id is not None
                kit.enrollment.mark_change_reported(change.id, actor=kit.actor("u-ao"))
                kit.enrollment.mark_change_reported(change.counterpart_id, actor=kit.actor("u-ao"))
            elif day == 15:
                kit.enrollment.edit(
                    app.id, actor=kit.actor("u-ao"), content=acme_855b(effective_date=T0.date())
                )
                kit.send(app.id, actor=kit.actor("u-ao"))
            elif day == 20:
                kit.signatures.sign_electronically(
                    app.id,
                    actor=kit.actor("u-ao"),
                    digest=kit.digest(app.id),
                    slot="authorized_official",
                    confirmed_email=EMAILS["u-ao"],
                    attestations=BOTH,
                )
                kit.enrollment.start_review(app.id, actor=kit.mac())
            elif day == 25:
                kit.enrollment.approve(app.id, actor=kit.mac(), ptan="PT-1", medicare_id="MC-1")
                approved_on = clock.now().date()

            items = agenda.for_profile("prof-acme", horizon_days=2000)
            assert list(items) == sorted(items, key=lambda i: (i.due, i.kind, i.subject))
            expected: dict[str, int] = {}
            if day < 5:
                expected["signature.awaited"] = 30 - day
            if day < 3:
                expected["invitation.pin"] = 3 - day
            if day < 12:
                expected["change.report"] = 20 - day
            if day < 30:
                expected["connection.auto_reject"] = 30 - day
            if 7 <= day < 20:
                expected["development.response"] = 37 - day
            if 15 <= day < 20:
                expected["signature.awaited"] = 37 - day  # the development deadline is sooner
            if day >= 25:
                assert approved_on is not None
                due = month_end(approved_on + relativedelta(years=5))  # EN-7 estimate
                expected["revalidation.due"] = (due - clock.now().date()).days
            assert kinds(items) == expected, f"day {day}"

    def test_en_9_user_agenda_shows_what_they_must_sign(self, kit: Kit) -> None:
        """The AO sees "Sign ..." for their open request; the SEU sees the same request
        awaited (Acme's profile is in their scope) but not as theirs to sign."""
        agenda = Agenda(kit.runtime, sources=agenda_sources())
        app = kit.enrollment.create(
            actor=kit.actor("u-seu"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            kind=Kind.INITIAL,
            content=acme_855b(),
        )
        kit.send(app.id, actor=kit.actor("u-seu"))
        (mine,) = agenda.for_user("u-ao")
        assert mine.kind == "signature.awaited" and mine.title.startswith("Sign the")
        assert mine.days_left == 30
        (theirs,) = agenda.for_user("u-seu")
        assert theirs.title.startswith("Awaiting")
        assert agenda.for_user("u-stranger") == ()

    def test_en_9_password_expiry_contributed_by_a_port(self, kit: Kit) -> None:
        """Identity contributes password expiry through a small lookup (PW-12 data)."""
        expires = datetime(2026, 2, 1, 9, tzinfo=UTC)
        agenda = Agenda(
            kit.runtime,
            sources=(*agenda_sources(), password_expiry_source(lambda tx, user: expires)),
        )
        (item,) = agenda.for_user("u-stranger")
        assert (item.kind, item.days_left) == ("password.expiry", (expires.date() - T0.date()).days)

    def test_en_9_horizon_limits_the_agenda(self, kit: Kit) -> None:
        """Items beyond the horizon are left out."""
        agenda = Agenda(kit.runtime, sources=agenda_sources())
        app = kit.enrollment.create(
            actor=kit.actor("u-ao"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            kind=Kind.INITIAL,
            content=acme_855b(),
        )
        kit.send(app.id, actor=kit.actor("u-ao"))
        assert agenda.for_profile("prof-acme", horizon_days=29) == ()
        assert len(agenda.for_profile("prof-acme", horizon_days=30)) == 1

    def test_en_9_default_horizon_reaches_seven_months(self, kit: Kit) -> None:
        """EN-9 amended: CMS posts revalidation dates up to 7 months ahead; by default the
        agenda shows one due in 7 months (it would not with a 120-day horizon)."""
        agenda = Agenda(kit.runtime, sources=agenda_sources())
        app = kit.enrollment.create(
            actor=kit.actor("u-ao"),
            profile_id="prof-acme",
            form=Form.CMS_855B,
            kind=Kind.INITIAL,
            content=acme_855b(),
        )
        kit.send(app.id, actor=kit.actor("u-ao"))
        kit.signatures.sign_electronically(
            app.id,
            actor=kit.actor("u-ao"),
            digest=kit.digest(app.id),
            slot="authorized_official",
            confirmed_email=EMAILS["u-ao"],
            attestations=BOTH,
        )
        kit.enrollment.start_review(app.id, actor=kit.mac())
        # CMS's date: the end of the month within 7 months of today, posted this early
        due = month_end(T0.date() + relativedelta(months=6))
        kit.enrollment.approve(app.id, actor=kit.mac(), ptan="PT-1", revalidation_due=due)
        assert (due - T0.date()).days > 120
        assert (T0.date() + relativedelta(months=7) - T0.date()).days <= DEFAULT_HORIZON_DAYS
        (item,) = agenda.for_profile("prof-acme")
        assert (item.kind, item.due.date()) == ("revalidation.due", due)
        assert "estimated" not in item.title
        assert agenda.for_profile("prof-acme", horizon_days=120) == ()
