"""EN-1, EN-3, EN-4: forms, revisions and digests, the lifecycle table."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.enrollment import (
    APPLICATION_MACHINE,
    FINAL_STATUSES,
    Application,
    ApplicationContent,
    ApplicationEvent,
    ApplicationStatus,
    DocumentRef,
    Form,
    Kind,
    content_digest,
)
from enrollkit.errors import (
    ExpiredError,
    InvalidTransitionError,
    SerializationError,
    ValidationError,
)
from enrollkit.serialization import canonical_json, from_data, to_data
from enrollkit.testing.strategies import contents, documents
from tests.conftest import T0
from tests.enrollment.factories import NPI_1, OAK_AVE, content_855i, draft

S, E = ApplicationStatus, ApplicationEvent
TRANSITIONS = APPLICATION_MACHINE.transitions
next_status = APPLICATION_MACHINE.next


class TestFormsAndKinds:
    def test_en_1_forms_and_kinds(self) -> None:
        """The forms are 855I/B/A/S/R, and (EN-1 amended) 855O, 20134 and 588; the kinds
        those of the rulebook, with the reassignment termination of EN-1 amended and EN-12."""
        assert {f.value for f in Form} == {
            *("855I", "855B", "855A", "855S", "855R"),
            *("855O", "20134", "588"),
        }
        assert {k.value for k in Kind} == {
            "initial",
            "change_of_information",
            "revalidation",
            "reassignment",
            "voluntary_termination",
            "reassignment_termination",
            "reactivation",
        }

    @pytest.mark.parametrize(
        "form",
        [Form.CMS_855B, Form.CMS_855A, Form.CMS_855S, Form.CMS_20134, Form.CMS_855O],
    )
    def test_en_1_reassignment_is_not_filed_on_organizational_forms(self, form: Form) -> None:
        """A reassignment on 855B/A/S/20134 (or 855O: it bills nothing) is refused with the
        form to use."""
        with pytest.raises(ValidationError) as info:
            draft(form, Kind.REASSIGNMENT, now=T0)
        assert info.value.code == "application.form_kind"


class TestLifecycleTable:
    def test_en_4_main_path(self) -> None:
        """draft → pending signatures → submitted → in review → approved, through the table."""
        path = [
            (S.DRAFT, E.SEND_FOR_SIGNATURE, S.PENDING_SIGNATURES),
            (S.PENDING_SIGNATURES, E.LAST_SIGNATURE, S.SUBMITTED),
            (S.SUBMITTED, E.START_REVIEW, S.IN_REVIEW),
            (S.IN_REVIEW, E.APPROVE, S.APPROVED),
        ]
        for source, event, target in path:
            assert next_status(source, event) is target

    def test_en_4_development_loop(self) -> None:
        """in review → development requested → draft (new revision) → pending signatures."""
        assert next_status(S.IN_REVIEW, E.REQUEST_DEVELOPMENT) is S.DEVELOPMENT_REQUESTED
        assert next_status(S.DEVELOPMENT_REQUESTED, E.EDIT) is S.DRAFT
        assert next_status(S.DEVELOPMENT_REQUESTED, E.RESPONSE_DEADLINE_PASSED) is S.REJECTED

    @pytest.mark.parametrize("status", list(ApplicationStatus))
    def test_en_4_withdraw_from_every_non_final_status_only(
        self, status: ApplicationStatus
    ) -> None:
        """Any non-final status can be withdrawn; final ones never change."""
        if status in FINAL_STATUSES:
            assert all(source is not status for source, _ in TRANSITIONS)
            with pytest.raises(InvalidTransitionError):
                next_status(status, E.WITHDRAW)
        else:
            assert next_status(status, E.WITHDRAW) is S.WITHDRAWN

    def test_en_4_mermaid_diagram_has_every_row(self) -> None:
        """The docs diagram is generated from the table: one edge per row."""
        diagram = APPLICATION_MACHINE.mermaid()
        for (source, event), target in TRANSITIONS.items():
            assert f"{source.value} --> {target.value}: {event.value}" in diagram


class TestRevisions:
    def test_en_3_sending_freezes_revision_1_with_the_digest(self) -> None:
        """The first send freezes revision 1 whose digest is the working digest."""
        app = draft(now=T0).send_for_signature(by="u-prep", now=T0)
        revision = app.current_revision
        assert revision is not None
        assert (revision.number, revision.digest) == (1, app.digest)
        assert app.status is S.PENDING_SIGNATURES

    def test_en_3_digest_is_sha256_of_canonical_serialization(self) -> None:
        """The digest is a 64-hex SHA-256 and depends on the content only."""
        digest = content_digest(content_855i())
        assert len(digest) == 64
        assert digest == content_digest(content_855i())
        assert digest != content_digest(content_855i(legal_business_name="Diaz MD PLLC"))
        assert canonical_json(content_855i()) == canonical_json(content_855i())

    @given(docs=st.lists(documents, max_size=4))
    def test_en_3_documents_count_by_content_not_order_or_id(self, docs: list[DocumentRef]) -> None:
        """Reordering documents or changing their ids and uploaders leaves the digest alone."""
        content = content_855i()
        base = content_digest(content, docs)
        renamed = [attrs.evolve(d, id=f"other-{i}", uploaded_by="x") for i, d in enumerate(docs)]
        assert content_digest(content, reversed(renamed)) == base
        if docs:
            changed = [attrs.evolve(docs[0], sha256="0" * 64), *docs[1:]]
            assert (content_digest(content, changed) == base) == (docs[0].sha256 == "0" * 64)

    @given(content=contents, first=st.lists(documents, max_size=3), second=st.lists(documents))
    def test_en_3_a_remembered_digest_follows_the_documents(
        self, content: ApplicationContent, first: list[DocumentRef], second: list[DocumentRef]
    ) -> None:
        """The digest remembered for a content object is the one its documents give: asked
        with other documents for the same content, it is computed again."""
        for docs in (first, second, first, second):
            assert content_digest(content, tuple(docs)) == content_digest(content, iter(docs))

    def test_en_4_a_transition_builds_what_evolve_builds(self) -> None:
        """A transition's result equals the application attrs.evolve would build, and one
        that changes nothing is the application itself."""
        app = draft(now=T0)
        later = T0 + timedelta(hours=1)
        sent = app.send_for_signature(by="u-prep", now=later)
        expected = attrs.evolve(
            app,
            status=S.PENDING_SIGNATURES,
            status_changed_at=later,
            revisions=(sent.revisions[0],),
        )
        assert sent == expected
        assert type(sent) is Application
        assert sent.record_signature(complete=False, now=later) is sent
        assert app.edit(app.content, now=later) is app

    def test_en_3_a_change_while_out_for_signature_is_revision_2(self) -> None:
        """Revising a sent application freezes revision 2 with a new digest (SG-5)."""
        sent = draft(now=T0).send_for_signature(by="u-prep", now=T0)
        revised = sent.revise(content=content_855i(mailing_address=OAK_AVE), by="u-prep", now=T0)
        assert [r.number for r in revised.revisions] == [1, 2]
        assert revised.revisions[0].digest != revised.revisions[1].digest
        assert revised.status is S.PENDING_SIGNATURES

    def test_en_3_a_revision_without_change_is_refused(self) -> None:
        """A revision needs a change."""
        sent = draft(now=T0).send_for_signature(by="u-prep", now=T0)
        with pytest.raises(ValidationError) as info:
            sent.revise(content=content_855i(), by="u-prep", now=T0)
        assert info.value.code == "application.no_change"

    def test_en_3_editing_while_out_for_signature_is_refused(self) -> None:
        """edit() on a sent application says to revise instead."""
        sent = draft(now=T0).send_for_signature(by="u-prep", now=T0)
        with pytest.raises(InvalidTransitionError) as info:
            sent.edit(content_855i(), now=T0)
        assert info.value.code == "application.out_for_signature"

    def test_en_3_after_decline_the_next_send_freezes_the_next_number(self) -> None:
        """A declined revision is closed; sending again freezes revision 2."""
        sent = draft(now=T0).send_for_signature(by="u-prep", now=T0)
        again = sent.decline(now=T0).send_for_signature(by="u-prep", now=T0)
        assert [r.number for r in again.revisions] == [1, 2]

    def test_incomplete_application_cannot_be_sent(self) -> None:
        """Missing NPI or practitioner is named before sending."""
        app = draft(now=T0, content=ApplicationContent())
        with pytest.raises(ValidationError) as info:
            app.send_for_signature(by="u-prep", now=T0)
        assert info.value.fields["missing"] == ["npi", "practitioner"]


class TestDevelopmentDeadline:
    def _in_development(self) -> Application:
        app = draft(now=T0).send_for_signature(by="u-prep", now=T0)
        app = app.record_signature(complete=True, now=T0).start_review(now=T0)
        return app.request_development(reason="Fix address", due_at=T0 + timedelta(days=30), now=T0)

    def test_en_4_response_deadline_rejects_on_day_30_without_a_sweep(self) -> None:
        """Day 29 reads development requested; day 30 reads rejected, nothing ran."""
        app = self._in_development()
        assert app.status_at(T0 + timedelta(days=29, hours=23)) is S.DEVELOPMENT_REQUESTED
        assert app.status_at(T0 + timedelta(days=30)) is S.REJECTED
        assert app.status is S.DEVELOPMENT_REQUESTED

    def test_en_4_acting_after_the_deadline_is_expired(self) -> None:
        """Editing after the deadline raises ExpiredError."""
        app = self._in_development()
        with pytest.raises(ExpiredError) as info:
            app.edit(content_855i(), now=T0 + timedelta(days=31))
        assert info.value.code == "application.response_deadline_passed"

    def test_en_4_deadline_keeps_running_until_the_response_is_submitted(self) -> None:
        """A response still out for signature on day 30 is rejected; once submitted, it is not."""
        app = self._in_development().edit(content_855i(mailing_address=OAK_AVE), now=T0)
        app = app.send_for_signature(by="u-prep", now=T0)
        assert app.status_at(T0 + timedelta(days=30)) is S.REJECTED
        submitted = app.record_signature(complete=True, now=T0 + timedelta(days=2))
        assert submitted.status_at(T0 + timedelta(days=40)) is S.SUBMITTED
        assert submitted.development is not None and not submitted.development.open


class TestRoundTrip:
    @given(content=contents, docs=st.lists(documents, max_size=3))
    def test_st_4_application_round_trips(
        self, content: ApplicationContent, docs: list[DocumentRef]
    ) -> None:
        """Applications with any content and documents round-trip through the converter."""
        app = attrs.evolve(draft(now=T0, content=content), documents=tuple(docs))
        assert from_data(to_data(app), Application) == app

    def test_malformed_application_data_is_refused(self) -> None:
        """Bad data names the path instead of raising a bare error."""
        data = to_data(draft(now=T0))
        data["content"]["npi"] = "1234567890"
        with pytest.raises(SerializationError):
            from_data(data, Application)

    def test_npi_on_the_content(self) -> None:
        """The factories build valid NPIs (sanity)."""
        assert str(NPI_1) == "1234567893"
