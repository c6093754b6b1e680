"""The two questions enrollment asks of access: EN-2 and whom to tell.

Rule EN-2 lives here once: preparing, editing, sending or withdrawing an
application needs effective PECOS access to the provider profile (CO-7),
as decided by :func:`enrollkit.access.decide` (for a reassignment
termination, to either party's profile: EN-12).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from enrollkit.access import PROFILES, Action, GrantPath, System, decide
from enrollkit.enrollment._forms import Kind
from enrollkit.errors import ValidationError
from enrollkit.notify import Contacts
from enrollkit.runtime import Transaction

if TYPE_CHECKING:
    from enrollkit.enrollment._application import Application

__all__ = [
    "AccountIdContacts",
    "Contacts",
    "require_application_access",
    "require_pecos_access",
    "require_profile_npi",
]


def require_profile_npi(tx: Transaction, application: Application) -> None:
    """Rule EN-2: an application is prepared for the provider of its profile, so the NPI
    it names (when it names one) is that profile's; access to one provider never files
    for another (a Type 1 profile's holder cannot file her clinic's 855B under her own
    profile)."""
    npi = application.content.npi
    if npi is None:
        return
    profile = tx.repo(PROFILES).get(application.profile_id)
    if profile is not None and profile.npi != npi:
        raise ValidationError(
            "application.npi_not_profile",
            f"The application names NPI {npi}, but its provider profile is NPI "
            f"{profile.npi}; an application is filed for the provider of its profile "
            "(EN-2). Prepare it under that provider's profile, or correct the NPI.",
            application_id=application.id,
        )


def require_pecos_access(tx: Transaction, *, user_id: str, profile_id: str) -> GrantPath:
    """The grant letting *user_id* prepare applications for *profile_id* (Rule EN-2).

    Raises NotPermittedError with access's explanation (who could grant it) otherwise.
    """
    return decide(
        tx, user_id=user_id, action=Action.ACT_ON_BEHALF, profile_id=profile_id, system=System.PECOS
    ).require()


def require_application_access(
    tx: Transaction, *, user_id: str, application: Application
) -> GrantPath:
    """The grant letting *user_id* work on *application* (Rules EN-2, EN-12).

    PECOS access to the application's profile; a reassignment termination concerns both
    parties and either may file it alone (EN-12), so PECOS access to the receiving
    organization's profile serves as well. Raises access's explanation otherwise.
    """
    profiles = [application.profile_id]
    target = application.content.reassignment
    if application.kind is Kind.REASSIGNMENT_TERMINATION and target is not None:
        profiles.append(target.target_profile_id)
    first = None
    for profile_id in profiles:
        decision = decide(
            tx,
            user_id=user_id,
            action=Action.ACT_ON_BEHALF,
            profile_id=profile_id,
            system=System.PECOS,
        )
        if decision.grant is not None:
            return decision.grant
        first = first or decision
    assert first is not None
    return first.require()


class AccountIdContacts:
    """The default :class:`Contacts`: addresses notifications to the account id itself.

    Hosts whose notifier resolves account ids (or that wire the identity
    package) need nothing else.
    """

    __slots__ = ()

    def email_of(self, tx: Transaction, user_id: str) -> str | None:
        """Return *user_id*: the host's notifier resolves it."""
        return user_id
