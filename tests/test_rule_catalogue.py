"""The rule catalogue matches the rulebook, and the tests cite every implemented rule."""

from __future__ import annotations

import pytest

from enrollkit.rules import RULES, Basis, Status, render_markdown
from tests.rule_citations import RULEBOOK, cited_ids, rulebook_ids


class TestRuleCatalogue:
    def test_catalogue_matches_the_rulebook(self) -> None:
        """Every rule of RULES.md is catalogued, in order, and nothing else is."""
        book = rulebook_ids()
        if book is None:
            pytest.skip(f"the rulebook is not beside this checkout ({RULEBOOK})")
        assert list(RULES) == book

    def test_every_implemented_rule_is_cited_by_a_test(self) -> None:
        """A rule marked implemented that no test cites is a gap in the proof."""
        cited = cited_ids()
        uncited = [
            rule_id
            for rule_id, rule in RULES.items()
            if rule.status is Status.IMPLEMENTED and rule_id not in cited
        ]
        assert uncited == [], f"implemented but cited by no test: {uncited}"

    def test_tests_cite_only_catalogued_rules(self) -> None:
        """A test citing an ID the catalogue lacks cites a rule that does not exist."""
        unknown = {
            rule_id: sorted(files) for rule_id, files in cited_ids().items() if rule_id not in RULES
        }
        assert unknown == {}

    def test_catalogue_entries_are_complete(self) -> None:
        """Every rule has a statement, a basis and a source."""
        for rule in RULES.values():
            assert rule.statement.endswith("."), rule.id
            assert isinstance(rule.basis, Basis)
            assert rule.source

    def test_rendered_page_lists_every_rule(self) -> None:
        """The docs page shows every rule ID once."""
        page = render_markdown()
        for rule_id in RULES:
            assert page.count(f"| {rule_id} |") == 1
