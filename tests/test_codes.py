"""ER-1: every error code, read from the source; one family per code; the page lists them."""

from __future__ import annotations

import re
from pathlib import Path

from enrollkit.codes import catalogue, render_markdown
from enrollkit.testing.contract import CONTRACT_CODES

DOCS = Path(__file__).resolve().parents[1] / "docs"


class TestCatalogue:
    def test_er_1_a_code_belongs_to_one_family(self) -> None:
        """A code never means two kinds of failure (two error classes)."""
        mixed = {e.code: e.family for e in catalogue().values() if " / " in e.family}
        assert mixed == {}

    def test_er_1_the_catalogue_finds_the_codes_raised_every_way(self) -> None:
        """Direct raises, helper factories, access denials, signing refusals and
        ``require(..., what=...)`` lookups are all found (the scan is not vacuous)."""
        entries = catalogue()
        expected = {
            "storage.stale": "ConflictError",  # a factory in enrollkit.storage
            "input.type": "ValidationError",  # boundary's helper, by its return annotation
            "connection.expired": "ExpiredError",
            "access.connection_pending": "NotPermittedError",  # an access denial
            "signature.not_the_practitioner": "NotPermittedError",  # a signing refusal
            "application.not_found": "NotFoundError",  # require(..., what="application")
            "connection.invalid_transition": "InvalidTransitionError",  # a state machine's
            "account.<event>_not_allowed": "InvalidTransitionError",  # ... its own code
        }
        assert {code: entries[code].family for code in expected} == expected
        assert len(entries) > 200

    def test_er_1_codes_are_stable_identifiers(self) -> None:
        """Lower-case, dotted, no spaces: safe as keys in a host's tables."""
        pattern = re.compile(r"\A[a-z][a-z0-9_]*(\.[a-z0-9_<>]+)+\Z")
        assert [c for c in catalogue() if not pattern.match(c)] == []

    def test_st_3_every_contract_code_is_listed(self) -> None:
        """Integrators find every code the storage contract expects on the page."""
        assert set(CONTRACT_CODES) <= set(catalogue())

    def test_er_1_every_family_is_an_error_class_with_a_status(self) -> None:
        """Every family is a real EnrollkitError class, so its status comes from
        ``errors.HTTP_STATUS`` and is never a guess."""
        statuses = {e.family: e.http_status for e in catalogue().values()}
        assert set(statuses.values()) <= {400, 403, 404, 409, 410, 422, 503}
        assert statuses["PasswordRejected"] == 422 and statuses["StorageError"] == 503


class TestPage:
    def test_er_1_the_page_lists_every_code(self) -> None:
        """The rendered page names every code, and the docs page renders it."""
        page = render_markdown()
        assert all(f"`{code}`" in page for code in catalogue())
        assert (
            "enrollkit:render enrollkit.codes:render_markdown" in (DOCS / "errors.md").read_text()
        )
