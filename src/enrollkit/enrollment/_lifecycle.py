"""The application lifecycle as data (Rule EN-4).

The transition table :data:`TRANSITIONS` is read by the aggregate, by the
documentation's diagram (:func:`lifecycle_mermaid`) and by the tests.

>>> next_status(ApplicationStatus.DRAFT, ApplicationEvent.SEND_FOR_SIGNATURE)
<ApplicationStatus.PENDING_SIGNATURES: 'pending_signatures'>
>>> next_status(ApplicationStatus.APPROVED, ApplicationEvent.WITHDRAW)
Traceback (most recent call last):
...
enrollkit.errors.InvalidTransitionError: An application that is approved cannot be withdrawn (EN-4).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import Final

from enrollkit.errors import InvalidTransitionError

__all__ = [
    "FINAL_STATUSES",
    "TRANSITIONS",
    "ApplicationEvent",
    "ApplicationStatus",
    "lifecycle_mermaid",
    "next_status",
]


class ApplicationStatus(Enum):
    """Where an application stands (Rule EN-4)."""

    DRAFT = "draft"
    PENDING_SIGNATURES = "pending_signatures"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    DEVELOPMENT_REQUESTED = "development_requested"
    APPROVED = "approved"
    DENIED = "denied"
    REJECTED = "rejected"  #: the development response deadline passed (computed on read)
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        """Lower-case words: ``"pending signatures"``."""
        return self.value.replace("_", " ")


class ApplicationEvent(Enum):
    """What can happen to an application (the columns of the transition table)."""

    EDIT = "edit"  #: change the working content (draft) or start a development response
    SEND_FOR_SIGNATURE = "send_for_signature"  #: freeze revision n (EN-3)
    REVISE = "revise"  #: change while out for signature: revision n+1 (EN-3, SG-5)
    SIGN = "sign"  #: a signature that leaves slots open
    LAST_SIGNATURE = "last_signature"  #: the signature completing every slot (SG-6)
    DECLINE = "decline"  #: a signer declines (SG-7)
    START_REVIEW = "start_review"  #: the MAC picks it up
    REQUEST_DEVELOPMENT = "request_development"  #: the MAC asks for corrections
    APPROVE = "approve"
    DENY = "deny"
    RESPONSE_DEADLINE_PASSED = "response_deadline_passed"  #: 30 days, computed on read
    WITHDRAW = "withdraw"


S, E = ApplicationStatus, ApplicationEvent

#: Statuses nothing leaves.
FINAL_STATUSES: Final = frozenset({S.APPROVED, S.DENIED, S.REJECTED, S.WITHDRAWN})

_NON_FINAL: Final = tuple(s for s in S if s not in FINAL_STATUSES)

#: Rule EN-4: ``{(status, event): new status}``. Anything absent is refused.
TRANSITIONS: Final[Mapping[tuple[ApplicationStatus, ApplicationEvent], ApplicationStatus]] = (
    MappingProxyType(
        {
            (S.DRAFT, E.EDIT): S.DRAFT,
            (S.DRAFT, E.SEND_FOR_SIGNATURE): S.PENDING_SIGNATURES,
            (S.PENDING_SIGNATURES, E.REVISE): S.PENDING_SIGNATURES,
            (S.PENDING_SIGNATURES, E.SIGN): S.PENDING_SIGNATURES,
            (S.PENDING_SIGNATURES, E.LAST_SIGNATURE): S.SUBMITTED,
            (S.PENDING_SIGNATURES, E.DECLINE): S.DRAFT,
            (S.SUBMITTED, E.START_REVIEW): S.IN_REVIEW,
            (S.IN_REVIEW, E.REQUEST_DEVELOPMENT): S.DEVELOPMENT_REQUESTED,
            (S.IN_REVIEW, E.APPROVE): S.APPROVED,
            (S.IN_REVIEW, E.DENY): S.DENIED,
            (S.DEVELOPMENT_REQUESTED, E.EDIT): S.DRAFT,
            (S.DEVELOPMENT_REQUESTED, E.RESPONSE_DEADLINE_PASSED): S.REJECTED,
            **{(status, E.WITHDRAW): S.WITHDRAWN for status in _NON_FINAL},
        }
    )
)

_VERB: Final = {
    E.EDIT: "edited",
    E.SEND_FOR_SIGNATURE: "sent for signature",
    E.REVISE: "revised while out for signature",
    E.SIGN: "signed",
    E.LAST_SIGNATURE: "signed",
    E.DECLINE: "declined",
    E.START_REVIEW: "taken into review",
    E.REQUEST_DEVELOPMENT: "sent back for development",
    E.APPROVE: "approved",
    E.DENY: "denied",
    E.RESPONSE_DEADLINE_PASSED: "rejected for a missed deadline",
    E.WITHDRAW: "withdrawn",
}


def next_status(status: ApplicationStatus, event: ApplicationEvent) -> ApplicationStatus:
    """The status after *event*, or InvalidTransitionError when the table has no such row."""
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise InvalidTransitionError(
            "application.invalid_transition",
            f"An application that is {status.label} cannot be {_VERB[event]} (EN-4).",
            status=status.value,
            event=event.value,
        ) from None


def lifecycle_mermaid() -> str:
    """The lifecycle as a Mermaid state diagram, generated from :data:`TRANSITIONS`."""
    lines = ["stateDiagram-v2", f"    [*] --> {S.DRAFT.value}"]
    for (source, event), target in TRANSITIONS.items():
        if event is E.WITHDRAW:
            continue
        lines.append(f"    {source.value} --> {target.value}: {event.value}")
    for status in _NON_FINAL:
        lines.append(f"    {status.value} --> {S.WITHDRAWN.value}: withdraw")
    lines.extend(f"    {status.value} --> [*]" for status in sorted(FINAL_STATUSES, key=_order))
    return "\n".join(lines)


def _order(status: ApplicationStatus) -> int:
    return list(S).index(status)
