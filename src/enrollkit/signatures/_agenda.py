"""The signatures' contribution to the agenda (Rule EN-9): signatures awaited (SG-2)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Final

from enrollkit.enrollment import (
    APPLICATIONS,
    AgendaItem,
    AgendaQuery,
    AgendaSource,
    Application,
    ApplicationStatus,
    DeadlinePolicy,
    NppesDirectory,
    days_left,
    enrollment_agenda_sources,
    profiles_in_scope,
)
from enrollkit.runtime import Transaction
from enrollkit.signatures._sheet import SIGNATURE_SHEETS, SignatureRequest, SignatureSheet

__all__ = ["SIGNATURE_TARGET_DAYS", "agenda_sources", "signature_source"]

#: [default] When a signature is wanted by, for the agenda only (nothing expires): 30 days
#: after the request, or the development response deadline when that is sooner.
SIGNATURE_TARGET_DAYS: Final = 30
_POLICY: Final = DeadlinePolicy()


def _items(
    app: Application,
    sheet: SignatureSheet,
    query: AgendaQuery,
    target_days: int,
    *,
    signer: str | None,
) -> Iterable[AgendaItem]:
    revision = app.current_revision
    if revision is None or app.status_at(query.now) is not ApplicationStatus.PENDING_SIGNATURES:
        return
    for request in sheet.requests_for(revision):
        if not request.is_open or (signer is not None and signer not in request.candidates):
            continue
        yield _item(app, request, query, target_days, signer=signer)


def _item(
    app: Application,
    request: SignatureRequest,
    query: AgendaQuery,
    target_days: int,
    *,
    signer: str | None,
) -> AgendaItem:
    due = request.opened_at + timedelta(days=target_days)
    development = app.development_due()
    if development is not None and development < due:
        due = development
    what = f"CMS-{app.form.value} application {app.id}, revision {request.revision}"
    section = request.slot.name.replace("_", " ")
    kind, rule = "signature.awaited", "SG-2"
    if signer is not None:
        title = f"Sign the {section} section of {what}."
    elif request.paper_only:
        # SG-3 amended: nobody listed can sign electronically; say paper is slower.
        kind, rule = "signature.paper", "SG-3"
        title = (
            f"Collect the paper signature of {' or '.join(request.paper_signers)} for the "
            f"{section} section of {what}: nobody listed can sign it electronically, and "
            "paper signatures are slower (they are often delayed). Link an I&A account to "
            "the official on the application to sign electronically instead."
        )
    else:
        title = f"Awaiting the {section} signature on {what} ({request.slot.describe()})."
    return AgendaItem(
        kind,
        due,
        days_left(due, query.now),
        title,
        request.id,
        app.profile_id,
        rule,
    )


def signature_source(target_days: int = SIGNATURE_TARGET_DAYS) -> AgendaSource:
    """Signatures awaited: the user's own open requests, and every open request on the
    applications of the profiles in scope (SG-2); dropped when signed or superseded."""

    def source(tx: Transaction, query: AgendaQuery) -> Iterable[AgendaItem]:
        applications = tx.repo(APPLICATIONS)
        sheets = tx.repo(SIGNATURE_SHEETS)
        if query.user_id is not None:
            for sheet in sheets.find(SIGNATURE_SHEETS.index("awaiting_signer"), query.user_id):
                app = applications.get(sheet.id)
                if app is not None:
                    yield from _items(app, sheet, query, target_days, signer=query.user_id)
        for profile_id in profiles_in_scope(tx, query):
            for app in applications.find(APPLICATIONS.index("profile"), profile_id):
                if app.status is not ApplicationStatus.PENDING_SIGNATURES:
                    continue
                found = sheets.get(app.id)
                if found is not None:
                    yield from _items(app, found, query, target_days, signer=None)

    return source


def agenda_sources(
    policy: DeadlinePolicy = _POLICY,
    *,
    signature_target_days: int = SIGNATURE_TARGET_DAYS,
    nppes: NppesDirectory | None = None,
) -> tuple[AgendaSource, ...]:
    """The complete default agenda sources: development responses, revalidations, change
    reports (NPPES ones met once *nppes* shows them), connections about to auto-reject,
    invitation PINs and signatures awaited."""
    return (
        *enrollment_agenda_sources(policy, nppes=nppes),
        signature_source(signature_target_days),
    )
