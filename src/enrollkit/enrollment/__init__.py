"""enrollkit.enrollment: applications, revisions, documents, NPPES checks, deadlines (EN-*).

The pure rules (forms, content, the lifecycle table, digests, documents,
NPPES comparison, deadlines) live beside the use cases
(:class:`EnrollmentService`); the docs page "Enrollment" has the tour.
"""

from enrollkit.enrollment._access import AccountIdContacts, Contacts, require_pecos_access
from enrollkit.enrollment._application import (
    APPLICATIONS,
    Application,
    DevelopmentRequest,
    MacDecision,
    NppesAcknowledgement,
    Revision,
    content_digest,
    reassigns,
)
from enrollkit.enrollment._content import (
    Address,
    ApplicationContent,
    DocumentRef,
    MediaType,
    Official,
    OfficialRole,
    PracticeLocation,
    Practitioner,
    Reassignment,
    Section,
    SectionField,
)
from enrollkit.enrollment._deadlines import ChangeKind, DeadlinePolicy, days_left
from enrollkit.enrollment._documents import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DocumentPolicy,
    DocumentStore,
    InMemoryDocumentStore,
    InspectedDocument,
    inspect_document,
    sniff_media_type,
)
from enrollkit.enrollment._forms import Form, Kind
from enrollkit.enrollment._lifecycle import (
    FINAL_STATUSES,
    TRANSITIONS,
    ApplicationEvent,
    ApplicationStatus,
    lifecycle_mermaid,
    next_status,
)
from enrollkit.enrollment._nppes import (
    InMemoryNppesDirectory,
    NppesDirectory,
    NppesMismatch,
    NppesRecord,
    compare_with_nppes,
    normalize,
    normalize_address,
)
from enrollkit.enrollment._service import EnrollmentService

__all__ = [
    "APPLICATIONS",
    "DEFAULT_MAX_DOCUMENT_BYTES",
    "FINAL_STATUSES",
    "TRANSITIONS",
    "AccountIdContacts",
    "Address",
    "Application",
    "ApplicationContent",
    "ApplicationEvent",
    "ApplicationStatus",
    "ChangeKind",
    "Contacts",
    "DeadlinePolicy",
    "DevelopmentRequest",
    "DocumentPolicy",
    "DocumentRef",
    "DocumentStore",
    "EnrollmentService",
    "Form",
    "InMemoryDocumentStore",
    "InMemoryNppesDirectory",
    "InspectedDocument",
    "Kind",
    "MacDecision",
    "MediaType",
    "NppesAcknowledgement",
    "NppesDirectory",
    "NppesMismatch",
    "NppesRecord",
    "Official",
    "OfficialRole",
    "PracticeLocation",
    "Practitioner",
    "Reassignment",
    "Revision",
    "Section",
    "SectionField",
    "compare_with_nppes",
    "content_digest",
    "days_left",
    "inspect_document",
    "lifecycle_mermaid",
    "next_status",
    "normalize",
    "normalize_address",
    "reassigns",
    "require_pecos_access",
    "sniff_media_type",
]
