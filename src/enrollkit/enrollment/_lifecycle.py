"""The application lifecycle as data (Rule EN-4).

The state machine :data:`APPLICATION_MACHINE` is read by the aggregate, by the
documentation's diagram (its :meth:`~enrollkit.machine.StateMachine.mermaid`)
and by the tests.

>>> APPLICATION_MACHINE.next(ApplicationStatus.DRAFT, ApplicationEvent.SEND_FOR_SIGNATURE)
<ApplicationStatus.PENDING_SIGNATURES: 'pending_signatures'>
>>> APPLICATION_MACHINE.next(ApplicationStatus.APPROVED, ApplicationEvent.WITHDRAW)
Traceback (most recent call last):
...
enrollkit.errors.InvalidTransitionError: This application is approved; it cannot be withdrawn (EN-4).
"""

from __future__ import annotations

from typing import Final

from enrollkit.machine import IdentityEnum, StateMachine

__all__ = [
    "APPLICATION_MACHINE",
    "FINAL_STATUSES",
    "ApplicationEvent",
    "ApplicationStatus",
]


class ApplicationStatus(IdentityEnum):
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


class ApplicationEvent(IdentityEnum):
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


#: Rule EN-4: ``{(status, event): new status}``; any non-final status (one with a way
#: forward) can be withdrawn. Anything absent is refused.
APPLICATION_MACHINE: Final = StateMachine.from_table(
    ApplicationStatus,
    ApplicationEvent,
    """
    application (EN-4), starts draft
    draft                  edit                      -> draft                  : edited
    draft                  send_for_signature        -> pending_signatures     : sent for signature
    pending_signatures     revise                    -> pending_signatures     : revised while out for signature
    pending_signatures     sign                      -> pending_signatures     : signed
    pending_signatures     last_signature            -> submitted              : signed
    pending_signatures     decline                   -> draft                  : declined
    submitted              start_review              -> in_review              : taken into review
    in_review              request_development       -> development_requested  : sent back for development
    in_review              approve                   -> approved               : approved
    in_review              deny                      -> denied                 : denied
    development_requested  edit                      -> draft                  : edited
    development_requested  response_deadline_passed  -> rejected               : rejected for a missed deadline
    draft                  withdraw                  -> withdrawn              : withdrawn
    pending_signatures     withdraw                  -> withdrawn              : withdrawn
    submitted              withdraw                  -> withdrawn              : withdrawn
    in_review              withdraw                  -> withdrawn              : withdrawn
    development_requested  withdraw                  -> withdrawn              : withdrawn
    """,
)

#: Statuses nothing leaves (the machine's terminal states).
FINAL_STATUSES: Final = APPLICATION_MACHINE.terminal
