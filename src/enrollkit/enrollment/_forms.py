"""Forms and kinds of Medicare enrollment applications (Rule EN-1), and who reports how.

>>> Form.CMS_855B.default_category
<ProviderCategory.PRACTITIONER: 'practitioner'>
>>> Form.CMS_855A.default_category, Form.CMS_855S.default_category
(<ProviderCategory.INSTITUTIONAL: 'institutional'>, <ProviderCategory.DMEPOS: 'dmepos'>)
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Form", "Kind", "ProviderCategory"]


class ProviderCategory(Enum):
    """Who enrolls, as 42 CFR 424.516 sorts them for reporting changes (Rule EN-7)."""

    #: physicians, non-physician practitioners and their groups (855I, 855R, 855B groups)
    PRACTITIONER = "practitioner"
    #: other providers and suppliers (855A; 855B for suppliers that are not practitioner groups)
    INSTITUTIONAL = "institutional"
    #: DMEPOS suppliers (855S)
    DMEPOS = "dmepos"


class Form(Enum):
    """The CMS-855 form an application is filed on (Rule EN-1)."""

    CMS_855I = "855I"  #: individual practitioner
    CMS_855B = "855B"  #: group practice / clinic
    CMS_855A = "855A"  #: institutional provider
    CMS_855S = "855S"  #: DMEPOS supplier
    CMS_855R = "855R"  #: reassignment of benefits

    @property
    def is_dmepos(self) -> bool:
        """Whether the form enrolls a DMEPOS supplier (shorter deadlines, EN-7)."""
        return self is Form.CMS_855S

    @property
    def is_organizational(self) -> bool:
        """Whether an organization (not an individual) enrolls with this form."""
        return self in (Form.CMS_855B, Form.CMS_855A, Form.CMS_855S)

    @property
    def revalidates(self) -> bool:
        """Whether the form's enrollment revalidates on its own (EN-7); a reassignment
        (855R) follows the individual's 855I enrollment instead."""
        return self is not Form.CMS_855R

    @property
    def default_category(self) -> ProviderCategory:
        """Who enrolls with this form, for the reporting windows (EN-7). An 855B may be a
        practitioner group or another supplier: [default] a practitioner group; say
        otherwise when recording a change."""
        if self is Form.CMS_855S:
            return ProviderCategory.DMEPOS
        if self is Form.CMS_855A:
            return ProviderCategory.INSTITUTIONAL
        return ProviderCategory.PRACTITIONER


class Kind(Enum):
    """What the application asks for (Rule EN-1)."""

    INITIAL = "initial"  #: initial enrollment
    CHANGE_OF_INFORMATION = "change_of_information"
    REVALIDATION = "revalidation"
    REASSIGNMENT = "reassignment"
    VOLUNTARY_TERMINATION = "voluntary_termination"
    #: one party ends a reassignment; only that party signs (EN-12)
    REASSIGNMENT_TERMINATION = "reassignment_termination"
