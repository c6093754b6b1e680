"""A stateful test of the signature round (EN-3, EN-4, SG-1, SG-4..SG-7).

Edit, attach, send, sign, decline, revise, the MAC's review and development
request, and the clock moving, in any order. After every step:

* a submitted revision has every slot signed on its own digest (SG-6);
* no signature from an ineligible user is ever accepted (SG-1, RO-8);
* signatures of a superseded revision never count (SG-5);
* the digest changes whenever content or documents change, and only then (EN-3).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from enrollkit.clock import FixedClock
from enrollkit.enrollment import (
    Address,
    ApplicationContent,
    ApplicationStatus,
    Form,
    Kind,
    content_digest,
)
from enrollkit.errors import EnrollkitError
from enrollkit.signatures import Attestation
from tests.conftest import NO_EXPIRY, make_runtime
from tests.enrollment.world import EMAILS, Kit, ana_855r

#: a hypothesis state machine over signature rounds: left out of the fast inner loop (`-m "not slow"`).
pytestmark = pytest.mark.slow

T = TypeVar("T")

USERS = ("u-ana", "u-ao", "u-do", "u-seu", "u-cred", "u-stranger")
SLOTS = ("individual", "receiving_organization")
#: Who may sign what on Dr Diaz's 855R to Acme (SG-1, RO-8).
ELIGIBLE = frozenset(
    {
        ("u-ana", "individual"),
        ("u-ao", "receiving_organization"),
        ("u-do", "receiving_organization"),
    }
)
MAILING = (
    None,
    Address("1 Elm St", "Springfield", "IL", "62701"),
    Address("2 Elm St", "Springfield", "IL", "62701"),
)
DOCS = (b"%PDF-1.4 license\n", b"%PDF-1.4 diploma\n", b"II*\x00 scan")
SUBMITTED_OR_LATER = frozenset(
    {
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.IN_REVIEW,
        ApplicationStatus.DEVELOPMENT_REQUESTED,
        ApplicationStatus.APPROVED,
        ApplicationStatus.DENIED,
    }
)


class SignatureRound(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
        runtime = make_runtime(clock=self.clock, password_policy=NO_EXPIRY)
        self.kit = Kit(runtime)
        self.mailing = 0
        self.docs: frozenset[int] = frozenset()
        self.app_id = self.kit.enrollment.create(
            actor=self.kit.actor("u-cred"),
            profile_id="prof-ana",
            form=Form.CMS_855R,
            kind=Kind.REASSIGNMENT,
            content=self._content(0),
        ).id
        self.digests: dict[tuple[int, frozenset[int]], str] = {}

    def _content(self, mailing: int) -> ApplicationContent:
        return ana_855r(mailing_address=MAILING[mailing])

    def _attempt(self, action: Callable[[], T]) -> T | None:
        try:
            return action()
        except EnrollkitError:
            return None

    # -- rules --------------------------------------------------------------------------

    @rule(mailing=st.integers(0, len(MAILING) - 1))
    def edit(self, mailing: int) -> None:
        content = self._content(mailing)
        if self._attempt(
            lambda: self.kit.enrollment.edit(
                self.app_id, actor=self.kit.actor("u-cred"), content=content
            )
        ):
            self.mailing = mailing

    @rule(doc=st.integers(0, len(DOCS) - 1))
    def attach(self, doc: int) -> None:
        if doc in self.docs:
            return
        done = self._attempt(
            lambda: self.kit.enrollment.attach_document(
                self.app_id,
                actor=self.kit.actor("u-cred"),
                filename=f"doc{doc}.pdf",
                data=DOCS[doc],
            )
        )
        if done:
            self.docs = self.docs | {doc}

    @rule()
    def send(self) -> None:
        self._attempt(lambda: self.kit.send(self.app_id, actor=self.kit.actor("u-cred")))

    @rule(mailing=st.integers(0, len(MAILING) - 1), doc=st.none() | st.integers(0, len(DOCS) - 1))
    def revise(self, mailing: int, doc: int | None) -> None:
        attach = [(f"doc{doc}.pdf", DOCS[doc])] if doc is not None and doc not in self.docs else []
        done = self._attempt(
            lambda: self.kit.signatures.revise(
                self.app_id,
                actor=self.kit.actor("u-cred"),
                content=self._content(mailing),
                attach=attach,
            )
        )
        if done:
            self.mailing = mailing
            if attach and doc is not None:
                self.docs = self.docs | {doc}

    @rule(pair=st.sampled_from(sorted(ELIGIBLE)))
    def sign_as_eligible(self, pair: tuple[str, str]) -> None:
        self.sign(*pair)

    @rule(user=st.sampled_from(USERS), slot=st.sampled_from(SLOTS))
    def sign_as_anyone(self, user: str, slot: str) -> None:
        self.sign(user, slot)

    def sign(self, user: str, slot: str) -> None:
        app = self.kit.enrollment.get(self.app_id)
        sheet = self.kit.signatures.sheet(self.app_id)
        revision = app.current_revision
        expect_ok = (
            (user, slot) in ELIGIBLE
            and app.status_at(self.clock.now()) is ApplicationStatus.PENDING_SIGNATURES
            and revision is not None
            and any(r.slot.name == slot and r.is_open for r in sheet.requests_for(revision))
        )
        done = self._attempt(
            lambda: self.kit.signatures.sign_electronically(
                self.app_id,
                actor=self.kit.actor(user),
                digest=self.kit.digest(self.app_id),
                slot=slot,
                confirmed_email=EMAILS.get(user, "nobody@example.org"),
                attestations=set(Attestation),
            )
        )
        assert (done is not None) == expect_ok, (user, slot, app.status)

    @rule(user=st.sampled_from(USERS), slot=st.sampled_from(SLOTS))
    def decline(self, user: str, slot: str) -> None:
        done = self._attempt(
            lambda: self.kit.signatures.decline(
                self.app_id, actor=self.kit.actor(user), slot=slot, reason="No"
            )
        )
        if done is not None:
            assert (user, slot) in ELIGIBLE
            assert done.status is ApplicationStatus.DRAFT

    @rule()
    def start_review(self) -> None:
        self._attempt(lambda: self.kit.enrollment.start_review(self.app_id, actor=self.kit.mac()))

    @rule()
    def request_development(self) -> None:
        self._attempt(
            lambda: self.kit.enrollment.request_development(
                self.app_id, actor=self.kit.mac(), reason="Fix"
            )
        )

    @rule(days=st.integers(1, 20))
    def advance(self, days: int) -> None:
        self.clock.advance(days=days)

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def submitted_revision_is_fully_signed_on_its_digest(self) -> None:
        app = self.kit.enrollment.get(self.app_id)
        event(f"status {app.status_at(self.clock.now()).value}")
        if app.status not in SUBMITTED_OR_LATER:
            return
        revision = app.current_revision
        assert revision is not None
        sheet = self.kit.signatures.sheet(self.app_id)
        assert sheet.is_complete(revision)
        valid = sheet.valid_signatures(revision)
        assert {s.slot for s in valid} == set(SLOTS)
        assert all(s.digest == revision.digest for s in valid)

    @invariant()
    def no_ineligible_signature(self) -> None:
        for signature in self.kit.signatures.sheet(self.app_id).signatures:
            assert (signature.signer_id, signature.slot) in ELIGIBLE

    @invariant()
    def superseded_signatures_never_count(self) -> None:
        app = self.kit.enrollment.get(self.app_id)
        revision = app.current_revision
        sheet = self.kit.signatures.sheet(self.app_id)
        for signature in sheet.signatures:
            if revision is None or signature.revision != revision.number:
                assert signature.superseded_at is not None
                assert revision is None or not signature.valid_for(revision)
        if revision is not None:
            assert all(s.revision == revision.number for s in sheet.valid_signatures(revision))

    @invariant()
    def digest_follows_content_and_documents_only(self) -> None:
        app = self.kit.enrollment.get(self.app_id)
        key = (self.mailing, self.docs)
        known = self.digests.setdefault(key, app.digest)
        assert known == app.digest
        assert len(set(self.digests.values())) == len(self.digests)
        for revision in app.revisions:
            assert revision.digest == content_digest(revision.content, revision.documents)


SignatureRound.TestCase.settings = settings(
    SignatureRound.TestCase.settings, stateful_step_count=40, deadline=None
)
TestSignatureRound = SignatureRound.TestCase
