"""Forms and kinds of Medicare enrollment applications (Rule EN-1)."""

from __future__ import annotations

from enum import Enum

__all__ = ["Form", "Kind"]


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


class Kind(Enum):
    """What the application asks for (Rule EN-1)."""

    INITIAL = "initial"  #: initial enrollment
    CHANGE_OF_INFORMATION = "change_of_information"
    REVALIDATION = "revalidation"
    REASSIGNMENT = "reassignment"
    VOLUNTARY_TERMINATION = "voluntary_termination"
