"""enrollkit.enrollment: applications, revisions, documents, NPPES checks, deadlines (EN-*).

The pure rules (forms, content, the lifecycle table, digests, documents,
NPPES comparison, deadlines) live beside the use cases
(:class:`EnrollmentService`); the docs page "Enrollment" has the tour.
"""

from enrollkit.enrollment._access import *
from enrollkit.enrollment._agenda import *
from enrollkit.enrollment._application import *
from enrollkit.enrollment._changes import *
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
from enrollkit.enrollment._reports import *
from enrollkit.enrollment._revalidation import *
from enrollkit.enrollment._service import *

__all__ = [
    "APPLICATIONS",
    "APPLICATION_MACHINE",
    "BOTH_SYSTEMS",
    "DEFAULT_HORIZON_DAYS",
    "DEFAULT_MAX_DOCUMENT_BYTES",
    "ENROLLMENT_RECORDS",
    "FINAL_STATUSES",
    "HEADER_LINE",
    "NPI_TYPES_BY_FORM",
    "REPORTABLE_CHANGES",
    "REPORTING_SYSTEMS",
    "RETROSPECTIVE_DAYS",
    "REVALIDATION_ANCHORS",
    "REVALIDATION_LIST_COLUMNS",
    "TERMINATING_KINDS",
    "THIRTY_DAY_CHANGES",
    "AccountIdContacts",
    "Address",
    "Agenda",
    "AgendaItem",
    "AgendaQuery",
    "AgendaSource",
    "Application",
    "ApplicationContent",
    "ApplicationEvent",
    "ApplicationStatus",
    "ApprovedEnrollmentRecord",
    "BillingWindow",
    "ChangeKind",
    "Contacts",
    "DeadlinePolicy",
    "DevelopmentExtension",
    "DevelopmentRequest",
    "DocumentPolicy",
    "DocumentRef",
    "DocumentStore",
    "EnrollmentPorts",
    "EnrollmentRecord",
    "EnrollmentService",
    "Fact",
    "FactSource",
    "Form",
    "InMemoryDocumentStore",
    "InMemoryNppesDirectory",
    "InspectedDocument",
    "Kind",
    "ListProblem",
    "ListedEnrollment",
    "LocationPtan",
    "MacDecision",
    "MediaType",
    "MedicareIdRow",
    "NppesAcknowledgement",
    "NppesDirectory",
    "NppesMismatch",
    "NppesRecord",
    "Official",
    "OfficialRole",
    "PendingReassignmentRow",
    "PracticeLocation",
    "Practitioner",
    "ProviderCategory",
    "Reassignment",
    "ReassignmentParty",
    "ReassignmentRow",
    "RecordReassignment",
    "RecordService",
    "RecordSource",
    "RecordStatus",
    "ReportableChange",
    "RevalidationDue",
    "RevalidationImport",
    "RevalidationListError",
    "Revision",
    "Section",
    "SectionField",
    "approved_record",
    "billing_window",
    "build_agenda",
    "change_report_source",
    "check_enrollment_id",
    "compare_with_nppes",
    "connection_source",
    "content_digest",
    "days_left",
    "development_source",
    "enrollment_agenda_sources",
    "inspect_document",
    "invitation_source",
    "medicare_id_report",
    "month_end",
    "normalize",
    "normalize_address",
    "password_expiry_source",
    "pending_reassignments",
    "profiles_in_scope",
    "read_revalidation_list",
    "reassignment_report",
    "reassigns",
    "record_id",
    "require_application_access",
    "require_pecos_access",
    "revalidation_due",
    "revalidation_list_lines",
    "revalidation_source",
    "same_name",
    "sniff_media_type",
]
