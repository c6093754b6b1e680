"""Effective dates and retrospective billing (Rule EN-11; 42 CFR 424.520(d), 424.521).

A practitioner's (855I) or group's (855B) enrollment is effective from the later of the
date it filed the application the MAC approved and the date it first served Medicare
patients at the location; it may bill for services up to 30 days before that, or 90
days when a Presidentially declared disaster kept it from filing:

>>> from datetime import date
>>> window = billing_window(Form.CMS_855I, filed_on=date(2026, 3, 10),
...                         first_served_on=date(2026, 3, 1))
>>> window.effective_date, window.bills_from
(datetime.date(2026, 3, 10), datetime.date(2026, 2, 8))
>>> billing_window(Form.CMS_855B, filed_on=date(2026, 3, 10), first_served_on=date(2026, 4, 1),
...                declared_disaster=True).bills_from
datetime.date(2026, 1, 1)
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

import attrs

from enrollkit.enrollment._forms import Form
from enrollkit.errors import ValidationError

__all__ = ["RETROSPECTIVE_DAYS", "BillingWindow", "billing_window"]

#: EN-11 (424.521(a)): days of retrospective billing, normally and after a declared disaster.
RETROSPECTIVE_DAYS: Final = (30, 90)
#: EN-11: the forms whose effective date 424.520(d) sets (physicians, practitioners, groups).
_FORMS: Final = frozenset({Form.CMS_855I, Form.CMS_855B})


@attrs.frozen
class BillingWindow:
    """When an approved 855I/855B enrollment is effective and from when it may bill."""

    effective_date: date  #: the later of filing and first service at the location
    bills_from: date  #: 30 days before it (90 after a declared disaster)
    declared_disaster: bool = False


def billing_window(
    form: Form, *, filed_on: date, first_served_on: date, declared_disaster: bool = False
) -> BillingWindow:
    """The effective date and retrospective billing start of an 855I or 855B approval
    (EN-11); other forms are refused (``record.effective_form``)."""
    if form not in _FORMS:
        raise ValidationError(
            "record.effective_form",
            f"424.520(d) sets the effective date of 855I and 855B enrollments; "
            f"CMS-{form.value} is not one (EN-11).",
            form=form.value,
        )
    effective = max(filed_on, first_served_on)
    days = RETROSPECTIVE_DAYS[1] if declared_disaster else RETROSPECTIVE_DAYS[0]
    return BillingWindow(effective, effective - timedelta(days=days), declared_disaster)
