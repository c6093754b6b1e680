"""An application moves, the enrollment record follows (Rules EN-10, EN-11).

Called by the use cases that move an application, in their transaction:

* the MAC approves: the record of the enrollment is created or updated (status approved,
  or voluntarily terminated; effective date; PTAN; the revalidation due date CMS
  assigned), each fact sourced "approved application";
* a revalidation is filed (its last signature submits it): ``revalidation_filed_on``;
* the MAC requests development: ``development_due_on``; the response clears it;
* the MAC approves a reassignment (an 855R, or an 855I naming one): the individual's
  record reassigns to the receiving organization's from the effective date; an approved
  reassignment termination ends it on its effective date (EN-10, EN-12).

Which record (EN-10): the enrollment ID the MAC gives with the approval, else
[default] the NPI's only record; an NPI with several records and no ID given is left as
it is (the application itself still feeds reports and the agenda), and an approval with
no ID for an NPI without a record creates none (enrollkit never invents a PECOS ID). A
reassignment is written only when both parties' records are known that way.
"""

from __future__ import annotations

from datetime import date
from typing import Final

import attrs

from enrollkit.access import PROFILES
from enrollkit.enrollment._application import REVALIDATION_ANCHORS, Application
from enrollkit.enrollment._effective import billing_window
from enrollkit.enrollment._forms import Form, Kind
from enrollkit.enrollment._lifecycle import ApplicationStatus
from enrollkit.enrollment._record import (
    ENROLLMENT_RECORDS,
    EnrollmentRecord,
    Fact,
    FactSource,
    LocationPtan,
    RecordReassignment,
    RecordSource,
    RecordStatus,
    check_enrollment_id,
    record_id,
    records_of_npi,
)
from enrollkit.runtime import Transaction

__all__ = [
    "reassignments_after_approval",
    "record_after_approval",
    "record_of_application",
    "sync_record",
]

#: [default] forms whose approval is an enrollment of its own (855R and 588 ride on one).
_ENROLLING_FORMS: Final = frozenset(Form) - {Form.CMS_855R, Form.CMS_588}
#: EN-11: the kinds whose filing answers a revalidation due date.
_FILES_REVALIDATION: Final = frozenset({Kind.REVALIDATION, Kind.REACTIVATION})


def _own_development(app: Application, record: EnrollmentRecord) -> bool:
    """Whether the record's open development deadline is *app*'s own request's."""
    development = app.development
    return development is not None and record.development_due_on == development.due_at.date()


def _facts(
    record: EnrollmentRecord, facts: tuple[Fact, ...], source: tuple[FactSource, ...]
) -> tuple[FactSource, ...]:
    return tuple(s for s in record.sources if s.fact not in facts) + source


def record_after_approval(
    app: Application, record: EnrollmentRecord | None, *, enrollment_id: str
) -> EnrollmentRecord:
    """*record* (or a new one for *enrollment_id*) as the approval of *app* leaves it
    (EN-10, EN-11): approved (a voluntary termination: voluntarily terminated) since the
    decision; the effective date the MAC gave, else for an 855I or 855B the EN-11 date
    (the filing date: [default] the first day of service is not known to enrollkit); the
    PTAN at the first practice location; CMS's revalidation due date when assigned
    (filing and development cleared by an initial, revalidation or reactivation)."""
    decision = app.decision
    assert decision is not None
    assert decision.approved
    content = app.filed_content
    assert content.npi is not None
    decided = decision.decided_at.date()
    effective = decision.effective_date
    if effective is None and app.form in (Form.CMS_855I, Form.CMS_855B):
        filed = (app.submitted_at or decision.decided_at).date()
        effective = billing_window(app.form, filed_on=filed, first_served_on=filed).effective_date
    source = RecordSource.APPLICATION
    reference = f"approved application {app.id}"
    base = record or EnrollmentRecord(
        id=record_id(enrollment_id),
        enrollment_id=enrollment_id,
        npi=content.npi,
        state=content.practice_locations[0].address.state if content.practice_locations else "",
        first_name=content.practitioner.first_name if content.practitioner else "",
        last_name=content.practitioner.last_name if content.practitioner else "",
        organization_name=content.legal_business_name or "",
    )
    changes: dict[str, object] = {}
    facts: list[Fact] = [] if record is not None else [Fact.IDENTITY]
    status = (
        RecordStatus.VOLUNTARILY_TERMINATED
        if app.kind is Kind.VOLUNTARY_TERMINATION
        else RecordStatus.APPROVED
    )
    if record is None or app.kind in (
        *REVALIDATION_ANCHORS,
        Kind.REACTIVATION,
        Kind.VOLUNTARY_TERMINATION,
    ):
        changes.update(status=status, status_since=decided)
        facts.append(Fact.STATUS)
    if effective is not None and app.kind is not Kind.VOLUNTARY_TERMINATION:
        changes["effective_date"] = effective
        facts.append(Fact.EFFECTIVE_DATE)
    if decision.ptan:
        location = content.practice_locations[0].name if content.practice_locations else ""
        others = tuple(p for p in base.ptans if p.ptan != decision.ptan)
        changes["ptans"] = (LocationPtan(decision.ptan, location), *others)
        facts.append(Fact.PTANS)
    if app.kind in (*REVALIDATION_ANCHORS, Kind.REACTIVATION):
        changes.update(revalidation_filed_on=None, development_due_on=None)
        if decision.revalidation_due is not None:
            changes.update(revalidation_due=decision.revalidation_due, adjusted_due=None)
            facts.append(Fact.REVALIDATION_DUE)
    sources = tuple(FactSource(f, source, reference, decision.decided_at) for f in facts)
    changes["sources"] = _facts(base, tuple(facts), sources)
    return attrs.evolve(base, **changes)  # type: ignore[arg-type]


def _record_of(
    tx: Transaction, app: Application, enrollment_id: str | None
) -> tuple[str | None, EnrollmentRecord | None]:
    repo = tx.repo(ENROLLMENT_RECORDS)
    if enrollment_id is not None:
        check_enrollment_id(enrollment_id)
        return enrollment_id, repo.get(record_id(enrollment_id))
    npi = app.filed_content.npi
    found = _single_record(tx, npi.value) if npi is not None else None
    return (found.enrollment_id, found) if found is not None else (None, None)


def record_of_application(tx: Transaction, app: Application) -> EnrollmentRecord | None:
    """The enrollment record *app* concerns (EN-10): [default] its NPI's only record."""
    return _record_of(tx, app, None)[1]


def _single_record(tx: Transaction, npi: str) -> EnrollmentRecord | None:
    """[default] The NPI's record when it has exactly one (EN-10), else None."""
    found = records_of_npi(tx.repo(ENROLLMENT_RECORDS), npi)
    return found[0] if len(found) == 1 else None


def reassignments_after_approval(
    app: Application, individual: EnrollmentRecord, receiving_enrollment_id: str
) -> EnrollmentRecord:
    """*individual*'s record as the approved reassignment (or reassignment termination)
    *app* leaves it (EN-10, EN-12): a reassignment holds from its effective date (else the
    decision's day) unless one to the same enrollment already holds then; a termination
    ends every reassignment to that enrollment still holding on its effective date."""
    decision = app.decision
    assert decision is not None
    content = app.filed_content
    target = content.reassignment
    day = decision.effective_date or (target.effective_date if target else None)
    day = day or decision.decided_at.date()
    to_receiving = [
        r for r in individual.reassignments if r.receiving_enrollment_id == receiving_enrollment_id
    ]
    if app.kind is Kind.REASSIGNMENT_TERMINATION:
        held = [r for r in to_receiving if r.until is None or r.until > day]
        if not held:
            return individual
        kept = tuple(
            attrs.evolve(r, until=max(day, r.since)) if r in held else r
            for r in individual.reassignments
        )
    elif any(r.active_on(day) or r.since > day for r in to_receiving):
        return individual
    else:
        added = RecordReassignment(individual.enrollment_id, receiving_enrollment_id, since=day)
        kept = (*individual.reassignments, added)
    source = FactSource(
        Fact.REASSIGNMENTS,
        RecordSource.APPLICATION,
        f"approved application {app.id}",
        decision.decided_at,
    )
    return attrs.evolve(
        individual,
        reassignments=kept,
        sources=_facts(individual, (Fact.REASSIGNMENTS,), (source,)),
    )


def _sync_reassignment(tx: Transaction, app: Application) -> EnrollmentRecord | None:
    content = app.filed_content
    target = content.reassignment
    if app.decision is None or target is None or content.npi is None:
        return None
    individual = _single_record(tx, content.npi.value)
    profile = tx.repo(PROFILES).get(target.target_profile_id)
    receiving = _single_record(tx, profile.npi.value) if profile is not None else None
    if individual is None or receiving is None:
        return None
    updated = reassignments_after_approval(app, individual, receiving.enrollment_id)
    if updated != individual:
        tx.repo(ENROLLMENT_RECORDS).save(updated)
    return updated


def sync_record(
    tx: Transaction, app: Application, *, enrollment_id: str | None = None
) -> EnrollmentRecord | None:
    """Bring the record of *app*'s enrollment up to date with *app* as just saved (EN-10,
    EN-11, EN-12), in *tx*; the record written, or None when there is none to write."""
    written = _sync_enrollment(tx, app, enrollment_id)
    if app.status is ApplicationStatus.APPROVED and (
        app.reassigns or app.kind is Kind.REASSIGNMENT_TERMINATION
    ):
        return _sync_reassignment(tx, app) or written
    return written


def _sync_enrollment(
    tx: Transaction, app: Application, enrollment_id: str | None
) -> EnrollmentRecord | None:
    if app.form not in _ENROLLING_FORMS or app.kind in (
        Kind.REASSIGNMENT,
        Kind.REASSIGNMENT_TERMINATION,
    ):
        return None
    eid, record = _record_of(tx, app, enrollment_id)
    if app.status is ApplicationStatus.APPROVED and app.decision is not None:
        if eid is None:
            return None
        updated = record_after_approval(app, record, enrollment_id=eid)
    elif record is None:
        return None
    elif app.status is ApplicationStatus.DEVELOPMENT_REQUESTED and app.development is not None:
        updated = attrs.evolve(record, development_due_on=app.development.due_at.date())
    elif app.status is ApplicationStatus.SUBMITTED and app.submitted_at is not None:
        filed: date | None = record.revalidation_filed_on
        if app.kind in _FILES_REVALIDATION and record.due is not None:
            filed = app.submitted_at.date()
        # Only this application's own development request is answered by its submission.
        answered = _own_development(app, record)
        updated = attrs.evolve(
            record,
            revalidation_filed_on=filed,
            development_due_on=None if answered else record.development_due_on,
        )
    elif app.submitted_at is not None and not app.stands_filed():
        # EN-11: a withdrawn or denied revalidation files nothing, and the development
        # request it carried ends with it.
        own_filing = (
            app.kind in _FILES_REVALIDATION
            and record.revalidation_filed_on == app.submitted_at.date()
        )
        updated = attrs.evolve(
            record,
            revalidation_filed_on=None if own_filing else record.revalidation_filed_on,
            development_due_on=(
                None if _own_development(app, record) else record.development_due_on
            ),
        )
    else:
        return None
    if updated == record:
        return record
    repo = tx.repo(ENROLLMENT_RECORDS)
    if record is None:
        repo.add(updated)
    else:
        repo.save(updated)
    return updated
