"""Enrollment-record use cases (Rule EN-10): import CMS's revalidation list, read records.

The import is one unit of work: every row of the file is written in it, and it commits
only when the whole file was read (all or nothing, ST-1). Each batch of rows is flushed
into the unit's database transaction once written (:func:`enrollkit.storage.flush`), so
memory holds one batch, not the file; a malformed row, an error or a crash before the
commit still lands nothing. It is idempotent:
a record the list does not change is not written; the summary says what changed
(new enrollments, due dates set or adjusted, enrollments gone from the list, which
are reported and unlisted, never deleted), and one audit event records it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Final

import attrs

from enrollkit.boundary import Limit, Text, boundary
from enrollkit.enrollment._import import (
    MAX_FIELD_CHARS,
    ListedEnrollment,
    read_revalidation_list,
)
from enrollkit.enrollment._record import (
    ENROLLMENT_RECORDS,
    LISTED_KEY,
    EnrollmentRecord,
    Fact,
    FactSource,
    RecordSource,
    check_enrollment_id,
    record_id,
    records_of_npi,
)
from enrollkit.npi import NPI
from enrollkit.principals import Principal, PrincipalKind
from enrollkit.runtime import Runtime
from enrollkit.storage import add_many, find_ids, get_many, require

__all__ = ["RecordService", "RevalidationImport"]

#: [default] who may import CMS's public list: a signed-in account or a help-desk operator.
IMPORTERS: Final = frozenset({PrincipalKind.ACCOUNT, PrincipalKind.HELP_DESK})
#: One line of the file (ER-1): 13 cells of at most 500 characters, quotes and commas.
Line = Annotated[str, Limit(chars=14 * (MAX_FIELD_CHARS + 3))]
#: The file's lines, read lazily (a million lines stream through).
Lines = Annotated[Iterable[Line], Limit(stream=True)]

#: Rows read, looked up, written and flushed together (one read of their records, ST-1).
_BATCH_ROWS: Final = 1_000

#: The facts CMS's list gives (EN-10).
_LIST_FACTS: Final = (Fact.IDENTITY, Fact.REVALIDATION_DUE)


@attrs.frozen
class RevalidationImport:
    """What an import of CMS's revalidation list changed (EN-10)."""

    rows: int  #: rows read
    new: tuple[str, ...]  #: enrollment IDs enrollkit did not hold
    due_set: tuple[str, ...]  #: a due date CMS posted where there was none ("TBD")
    due_adjusted: tuple[str, ...]  #: a due date CMS changed (or set back to "TBD")
    updated: tuple[str, ...]  #: other facts changed (names, state, counts, ...)
    gone: tuple[str, ...]  #: listed before, absent now: reported, kept, unlisted
    unchanged: int  #: rows that changed nothing

    def as_dict(self) -> dict[str, object]:
        """The counts, JSON-ready (the audit event's data)."""
        return {
            "rows": self.rows,
            "new": len(self.new),
            "due_set": len(self.due_set),
            "due_adjusted": len(self.due_adjusted),
            "updated": len(self.updated),
            "gone": len(self.gone),
            "unchanged": self.unchanged,
        }


def _identity(row: ListedEnrollment) -> dict[str, object]:
    return {
        "npi": row.npi,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "organization_name": row.organization_name,
        "state": row.state,
        "enrollment_type": row.enrollment_type,
        "provider_type": row.provider_type,
        "specialty": row.specialty,
        "employer_associations": row.employer_associations,
        "group_reassignments": row.group_reassignments,
    }


def _with_sources(
    record: EnrollmentRecord, facts: Iterable[Fact], sources: dict[Fact, FactSource]
) -> tuple[FactSource, ...]:
    changed = set(facts)
    kept = tuple(s for s in record.sources if s.fact not in changed)
    return kept + tuple(sources[f] for f in _LIST_FACTS if f in changed)


class RecordService:
    """Import and read enrollment records (EN-10)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @boundary
    def import_revalidation_list(
        self,
        *,
        actor: Principal,
        lines: Lines,
        source: Text = "CMS revalidation due date list",
        progress: Callable[[int], object] | None = None,
    ) -> RevalidationImport:
        """Import CMS's revalidation due-date list (EN-10) from *lines* (an open file),
        read once, lazily. All or nothing: a malformed row (reported with its line,
        :class:`~enrollkit.enrollment.RevalidationListError`) lands nothing. *progress*
        is called with the number of rows read so far, every 10,000 rows and at the end.

        Not retried on a concurrent change (the lines are read once): a conflict is
        reported and the caller imports the file again.
        """
        with self.runtime.transaction() as tx:
            who = tx.act(actor, kinds=IMPORTERS).audit_id
            repo = tx.repo(ENROLLMENT_RECORDS)
            sources = {
                fact: FactSource(fact, RecordSource.CMS_LIST, source, tx.now)
                for fact in _LIST_FACTS
            }
            both = (sources[Fact.IDENTITY], sources[Fact.REVALIDATION_DUE])
            new: list[str] = []
            due_set: list[str] = []
            due_adjusted: list[str] = []
            updated: list[str] = []
            listed_now: set[str] = set()
            #: records found under a listed row's id that hold another enrollment ID
            odd: list[str] = []
            unchanged = rows = 0
            batch: list[ListedEnrollment] = []

            def write(batch: list[ListedEnrollment]) -> None:
                nonlocal unchanged
                # One read for the batch's records, one for its new ones (ST-1).
                olds = get_many(repo, [record_id(row.enrollment_id) for row in batch])
                fresh: list[EnrollmentRecord] = []
                for row, old in zip(batch, olds, strict=True):
                    eid = row.enrollment_id
                    identity = _identity(row)
                    if old is None:
                        fresh.append(
                            EnrollmentRecord(
                                id=eid,
                                enrollment_id=eid,
                                revalidation_due=row.revalidation_due,
                                adjusted_due=row.adjusted_due,
                                listed=True,
                                sources=both,
                                **identity,  # type: ignore[arg-type]
                            )
                        )
                        new.append(eid)
                        continue
                    if old.enrollment_id != eid:
                        odd.append(old.id)
                    facts: list[Fact] = []
                    if any(getattr(old, k) != v for k, v in identity.items()):
                        facts.append(Fact.IDENTITY)
                        updated.append(eid)
                    old_due = (old.revalidation_due, old.adjusted_due)
                    if old_due != (row.revalidation_due, row.adjusted_due):
                        facts.append(Fact.REVALIDATION_DUE)
                        (due_set if old_due == (None, None) else due_adjusted).append(eid)
                    if not facts and old.listed:
                        unchanged += 1
                        continue
                    repo.save(
                        attrs.evolve(
                            old,
                            revalidation_due=row.revalidation_due,
                            adjusted_due=row.adjusted_due,
                            listed=True,
                            sources=_with_sources(old, facts, sources),
                            **identity,  # type: ignore[arg-type]
                        )
                    )
                    if not facts:
                        unchanged += 1
                add_many(repo, fresh)
                # Into the unit's database transaction: memory holds one batch (ST-1 holds).
                tx.flush()

            for row in read_revalidation_list(lines):
                rows += 1
                if progress is not None and rows % 10_000 == 0:
                    progress(rows)
                listed_now.add(row.enrollment_id)
                batch.append(row)
                if len(batch) == _BATCH_ROWS:
                    write(batch)
                    batch = []
            if batch:
                write(batch)
            # Gone from the list: listed records whose enrollment ID the file lacks. The
            # index gives ids (record_id: the enrollment ID), so only records whose id is
            # not listed now, or that hold another enrollment ID, are read.
            listed = find_ids(repo, ENROLLMENT_RECORDS.index("listed"), LISTED_KEY)
            unseen = [obj_id for obj_id in listed if obj_id not in listed_now]
            del listed
            unseen.extend(sorted(set(odd)))
            gone = []
            for start in range(0, len(unseen), _BATCH_ROWS):
                part = unseen[start : start + _BATCH_ROWS]
                for old in get_many(repo, part):
                    if old is not None and old.listed and old.enrollment_id not in listed_now:
                        gone.append(old.enrollment_id)
                        repo.save(attrs.evolve(old, listed=False))
                tx.flush()
            summary = RevalidationImport(
                rows=rows,
                new=tuple(new),
                due_set=tuple(due_set),
                due_adjusted=tuple(due_adjusted),
                updated=tuple(updated),
                gone=tuple(sorted(gone)),
                unchanged=unchanged,
            )
            tx.record(
                "records.revalidation_list_imported",
                subject=source,
                actor=who,
                **summary.as_dict(),
            )
            tx.commit()
        if progress is not None:
            progress(rows)
        return summary

    @boundary
    def get(self, enrollment_id: Text) -> EnrollmentRecord:
        """The record of *enrollment_id* (``enrollment_record.not_found`` otherwise)."""
        check_enrollment_id(enrollment_id)
        with self.runtime.transaction() as tx:
            return require(
                tx.repo(ENROLLMENT_RECORDS), record_id(enrollment_id), what="enrollment record"
            )

    @boundary
    def for_npi(self, npi: NPI) -> tuple[EnrollmentRecord, ...]:
        """Every record of *npi*, by enrollment ID."""
        with self.runtime.transaction() as tx:
            return records_of_npi(tx.repo(ENROLLMENT_RECORDS), npi.value)
