"""enrollkit.enrollment: applications, revisions, documents, NPPES checks, deadlines (EN-*).

The pure rules (forms, content, the lifecycle table, digests, documents,
NPPES comparison, deadlines) live beside the use cases
(:class:`EnrollmentService`); the docs page "Enrollment" has the tour.
"""

from enrollkit.enrollment import (
    _access,
    _agenda,
    _application,
    _changes,
    _checklist,
    _content,
    _deadlines,
    _documents,
    _effective,
    _forms,
    _import,
    _lifecycle,
    _nppes,
    _ports,
    _record,
    _record_service,
    _record_sync,
    _reports,
    _revalidation,
    _service,
)
from enrollkit.enrollment._access import *
from enrollkit.enrollment._agenda import *
from enrollkit.enrollment._application import *
from enrollkit.enrollment._changes import *
from enrollkit.enrollment._checklist import *
from enrollkit.enrollment._content import *
from enrollkit.enrollment._deadlines import *
from enrollkit.enrollment._documents import *
from enrollkit.enrollment._effective import *
from enrollkit.enrollment._forms import *
from enrollkit.enrollment._import import *
from enrollkit.enrollment._lifecycle import *
from enrollkit.enrollment._nppes import *
from enrollkit.enrollment._ports import *
from enrollkit.enrollment._record import *
from enrollkit.enrollment._record_service import *
from enrollkit.enrollment._record_sync import *
from enrollkit.enrollment._reports import *
from enrollkit.enrollment._revalidation import *
from enrollkit.enrollment._service import *

#: The package's API: the names its modules export (each module's ``__all__``).
__all__ = sorted(
    {
        *_access.__all__,
        *_agenda.__all__,
        *_application.__all__,
        *_changes.__all__,
        *_checklist.__all__,
        *_content.__all__,
        *_deadlines.__all__,
        *_documents.__all__,
        *_effective.__all__,
        *_forms.__all__,
        *_import.__all__,
        *_lifecycle.__all__,
        *_nppes.__all__,
        *_ports.__all__,
        *_record.__all__,
        *_record_service.__all__,
        *_record_sync.__all__,
        *_reports.__all__,
        *_revalidation.__all__,
        *_service.__all__,
    }
)
