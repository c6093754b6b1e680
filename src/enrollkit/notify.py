"""Notifications as data, through a port the host implements (its mailer, SMS gateway).

enrollkit never sends mail itself. A use case hands the notifier a
:class:`Notification`: who receives it, which template, the fields the
template shows. No secret is ever among the fields; the only secret a
notification may carry is the one the recipient must receive (a one-time
code or an invitation PIN), in ``secret``, which is hidden from ``repr``.

Notifications are handed over only after the use case's unit of work has
committed, so a rolled-back change never sends mail.

>>> outbox = InMemoryNotifier()
>>> outbox.send(Notification("ana@example.org", "invitation.sent",
...                          {"organization": "Acme PLLC"}, secret="K7QX-9MPR-4"))
>>> outbox.sent[0]
Notification(recipient='ana@example.org', template='invitation.sent', fields={'organization': 'Acme PLLC'})
>>> outbox.sent[0].secret
'K7QX-9MPR-4'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from enrollkit.audit import SECRET_KEYS
from enrollkit.errors import ValidationError

if TYPE_CHECKING:
    from enrollkit.runtime import Transaction

__all__ = ["Contacts", "InMemoryNotifier", "Notification", "Notifier"]


def _no_secret_fields(_instance: object, _attribute: object, value: Mapping[str, str]) -> None:
    for key, item in value.items():
        if key.lower() in SECRET_KEYS:
            raise ValidationError(
                "notification.secret_field",
                f"Notification field {key!r} names a secret; put the one secret the "
                "recipient must receive in Notification.secret.",
                field=key,
            )
        if not isinstance(item, str):
            raise ValidationError(
                "notification.field_type",
                f"Notification fields are text; {key!r} is a {type(item).__name__}.",
                field=key,
            )


@attrs.frozen
class Notification:
    """A message for the host to deliver: recipient (e-mail or phone), template id, fields."""

    recipient: str = attrs.field(validator=attrs.validators.min_len(1))
    template: str = attrs.field(validator=attrs.validators.min_len(1))
    fields: Mapping[str, str] = attrs.field(factory=dict, validator=_no_secret_fields, hash=False)
    secret: str | None = attrs.field(default=None, kw_only=True, repr=False)


@runtime_checkable
class Notifier(Protocol):
    """Delivers notifications (the host's mailer, SMS or voice gateway)."""

    def send(self, notification: Notification) -> None:
        """Deliver *notification*, or queue it for delivery."""
        ...


class InMemoryNotifier:
    """Records notifications in a list: for tests and the demo."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def __repr__(self) -> str:
        return f"InMemoryNotifier(sent={len(self.sent)})"

    def send(self, notification: Notification) -> None:
        """Record *notification*."""
        self.sent.append(notification)

    def last(self, recipient: str, template: str | None = None) -> Notification | None:
        """Return the newest notification to *recipient* (of *template*), or None."""
        for notification in reversed(self.sent):
            if notification.recipient == recipient and (
                template is None or notification.template == template
            ):
                return notification
        return None


@runtime_checkable
class Contacts(Protocol):
    """Where to reach an account (the identity package's accounts, or the host's directory)."""

    def email_of(self, tx: Transaction, user_id: str) -> str | None:
        """The account's e-mail address, read inside the use case's transaction *tx*,
        or ``None`` when unknown."""
        ...
