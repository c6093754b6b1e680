"""EN-8: Medicare ID report, approved record, pending reassignments, reassignment report."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from enrollkit.clock import FixedClock
from enrollkit.enrollment import Application, ApplicationContent, ApplicationStatus, Form, Kind
from enrollkit.errors import InvalidTransitionError, NotPermittedError
from enrollkit.runtime import Runtime
from enrollkit.serialization import to_data
from enrollkit.signatures import Attestation
from tests.enrollment.world import EMAILS, Kit, ana_855i, ana_855r

SIGNERS = {"individual": "u-ana", "receiving_organization": "u-ao"}


@pytest.fixture
def kit(runtime: Runtime) -> Kit:
    return Kit(runtime)


def through(
    kit: Kit,
    form: Form,
    kind: Kind,
    content: ApplicationContent,
    *,
    ptan: str | None = None,
    effective: date | None = None,
) -> Application:
    """Create, send, sign every slot and (with a PTAN) approve."""
    app = kit.enrollment.create(
        actor=kit.actor("u-cred"), profile_id="prof-ana", form=form, kind=kind, content=content
    )
    app = kit.signatures.send_for_signature(app.id, actor=kit.actor("u-cred"))
    for request in kit.signatures.sheet(app.id).open_requests():
        signer = SIGNERS[request.slot.name]
        app = kit.signatures.sign_electronically(
            app.id,
            actor=kit.actor(signer),
            digest=kit.digest(app.id),
            slot=request.slot.name,
            confirmed_email=EMAILS[signer],
            attestations=set(Attestation),
        )
    if ptan is not None:
        kit.enrollment.start_review(app.id, actor=kit.mac())
        app = kit.enrollment.approve(
            app.id, actor=kit.mac(), ptan=ptan, medicare_id=f"M-{ptan}", effective_date=effective
        )
    return app


class TestReports:
    def test_en_8_medicare_id_report(self, kit: Kit, clock: FixedClock) -> None:
        """Every approved enrollment of the profile with PTAN and Medicare ID, oldest first."""
        through(kit, Form.CMS_855I, Kind.INITIAL, ana_855i(), ptan="PT-I")
        clock.advance(days=3)
        through(kit, Form.CMS_855R, Kind.REASSIGNMENT, ana_855r(), ptan="PT-R")
        through(kit, Form.CMS_855R, Kind.REASSIGNMENT, ana_855r())  # submitted, not approved
        rows = kit.enrollment.medicare_id_report("prof-ana", actor=kit.actor("u-ana"))
        assert [(r.form, r.ptan, r.medicare_id) for r in rows] == [
            (Form.CMS_855I, "PT-I", "M-PT-I"),
            (Form.CMS_855R, "PT-R", "M-PT-R"),
        ]
        assert rows[0].legal_name == "Ana Diaz" and rows[0].npi == "1234567893"
        assert to_data(rows[0])["form"] == "855I"

    def test_en_8_approved_enrollment_record(self, kit: Kit, clock: FixedClock) -> None:
        """The record holds the approved revision and the revalidation due date."""
        app = through(kit, Form.CMS_855I, Kind.INITIAL, ana_855i(), ptan="PT-I")
        record = kit.enrollment.approved_record(app.id, actor=kit.actor("u-cred"))
        assert record.revision.number == 1 and record.revision.content == ana_855i()
        assert record.revalidation_due == clock.now().date().replace(year=2031)
        pending = through(kit, Form.CMS_855I, Kind.CHANGE_OF_INFORMATION, ana_855i())
        with pytest.raises(InvalidTransitionError):
            kit.enrollment.approved_record(pending.id, actor=kit.actor("u-cred"))

    def test_en_8_pending_reassignments_seen_from_both_sides(self, kit: Kit) -> None:
        """A submitted 855R shows for Dr Diaz and for Acme, the receiving organization."""
        app = through(kit, Form.CMS_855R, Kind.REASSIGNMENT, ana_855r())
        for profile, actor in (("prof-ana", "u-ana"), ("prof-acme", "u-ao")):
            (row,) = kit.enrollment.pending_reassignments(profile, actor=kit.actor(actor))
            assert (row.application_id, row.status) == (app.id, ApplicationStatus.SUBMITTED)
            assert row.receiving_profile_id == "prof-acme"
        with pytest.raises(NotPermittedError):
            kit.enrollment.pending_reassignments("prof-acme", actor=kit.actor("u-ana"))

    def test_en_8_reassignment_report(self, kit: Kit, clock: FixedClock) -> None:
        """Approved reassignments to Acme with PTAN, effective date and the individual's
        revalidation due date (from her 855I approval)."""
        through(kit, Form.CMS_855I, Kind.INITIAL, ana_855i(), ptan="PT-I")
        approved_855i = clock.now().date()
        clock.advance(days=40)
        app = through(
            kit,
            Form.CMS_855R,
            Kind.REASSIGNMENT,
            ana_855r(),
            ptan="PT-R",
            effective=approved_855i + timedelta(days=45),
        )
        (row,) = kit.enrollment.reassignment_report("prof-acme", actor=kit.actor("u-do"))
        assert (row.application_id, row.ptan, row.individual_name) == (app.id, "PT-R", "Ana Diaz")
        assert row.effective_date == approved_855i + timedelta(days=45)
        assert row.revalidation_due == approved_855i.replace(year=approved_855i.year + 5)
