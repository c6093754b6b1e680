"""PW-1..PW-13: the password policy as a pure, configurable value."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollkit.clock import days_left
from enrollkit.errors import ValidationError
from enrollkit.hashing import FAST_INSECURE_PARAMETERS, Argon2Hasher
from enrollkit.identity import (
    IA_PASSWORD_POLICY,
    VIOLATION_CODES,
    PasswordCandidate,
    PasswordPolicy,
    PasswordRejected,
    Violation,
)
from enrollkit.rules import RULES
from enrollkit.serialization import from_data, to_data
from tests.identity.strategies import (
    FIRST_NAME,
    LAST_NAME,
    SINGLE_BREACHES,
    USER_ID,
    candidates,
    compliant,
    parts_of,
    policies,
)

POLICY = IA_PASSWORD_POLICY
HASHER = Argon2Hasher(FAST_INSECURE_PARAMETERS)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

#: Passwords a history may remember, hashed once (PW-10); "Blue#Sky42" also complies.
REMEMBERED = ("Blue#Sky42", "Red$Moon17", "abc")
HASHES = {password: HASHER.hash(password) for password in REMEMBERED}


def codes(password: str, **kwargs: object) -> list[str]:
    """The violation codes for *password* with the test user's identity."""
    identity: dict[str, object] = {
        "user_id": USER_ID,
        "first_name": FIRST_NAME,
        "last_name": LAST_NAME,
    }
    identity.update(kwargs)
    return [v.code for v in POLICY.check(password, **identity)]  # type: ignore[arg-type]


class TestExamples:
    """One example per rule, with the exact code."""

    @pytest.mark.parametrize(
        ("password", "code"),
        [
            pytest.param("Ab#1xyz", "password.too_short", id="PW-1-short"),
            pytest.param("Ab#1xyzuvwrst", "password.too_long", id="PW-1-long"),
            pytest.param("#12345678", "password.no_letter", id="PW-2"),
            pytest.param("Abc#defgh", "password.no_digit", id="PW-3"),
            pytest.param("Abc1defgh", "password.no_special", id="PW-4"),
            pytest.param("Abc 1#defg", "password.invalid_character", id="PW-5-space"),
            pytest.param("Abc/1#defg", "password.invalid_character", id="PW-5-symbol"),
            pytest.param("Ábc1#defg", "password.invalid_character", id="PW-5-non-ascii"),
            pytest.param("1Abc#defg", "password.starts_with_digit", id="PW-6"),
            pytest.param("#qXZ9kW1a", "password.contains_user_id", id="PW-7"),
            pytest.param("#sMiTh1ab", "password.contains_name", id="PW-8"),
            pytest.param("Abbb#1cde", "password.repeated_character", id="PW-9"),
        ],
    )
    def test_pw_1_to_9_each_rule_has_its_code(self, password: str, code: str) -> None:
        """Each rule's example is reported with exactly that rule's code."""
        assert codes(password) == [code]

    def test_pw_7_user_id_equal_to_password_is_refused(self) -> None:
        """A password equal to the user ID (any case) breaks PW-7."""
        assert "password.contains_user_id" in codes("Ab#1xyz9", user_id="aB#1XYZ9")

    def test_pw_8_short_names_are_not_checked(self) -> None:
        """Names shorter than 3 letters do not count (PW-8): "Jo" may appear."""
        assert codes("Jo#1abcd", first_name="Jo") == []
        assert codes("Ann#1bcd", first_name="Ann") == ["password.contains_name"]

    def test_pw_8_each_part_of_a_compound_name_counts(self) -> None:
        """A hyphenated or spaced last name is checked part by part."""
        assert codes("#Jones12a", last_name="Smith-Jones") == ["password.contains_name"]

    def test_pw_9_two_in_a_row_is_fine_and_case_matters(self) -> None:
        """Two identical characters are allowed; "aAa" is not a repeat (PW-9)."""
        assert codes("Abb#1aAac") == []

    def test_compliance_list_reports_every_violation_in_order(self) -> None:
        """A bad password gets the whole list, in the stable order, each actionable."""
        violations = POLICY.check("1 smith", user_id=USER_ID, last_name=LAST_NAME)
        assert [v.code for v in violations] == [
            "password.too_short",
            "password.no_special",
            "password.invalid_character",
            "password.starts_with_digit",
            "password.contains_name",
        ]
        assert [v.rule for v in violations] == ["PW-1", "PW-4", "PW-5", "PW-6", "PW-8"]
        assert violations[0].message == "Use at least 8 characters (this password has 7)."
        assert all(v.message.endswith((".", "=")) for v in violations)

    def test_violations_never_contain_the_password(self) -> None:
        """No message repeats the password or the names it contains."""
        secret = "1 Zq smith"
        for violation in POLICY.check(secret, user_id=USER_ID, last_name=LAST_NAME):
            assert secret not in violation.message
            assert "smith" not in violation.message.lower()

    def test_non_text_is_a_validation_error(self) -> None:
        """A non-string password is refused with our error, not a TypeError (ER-1)."""
        with pytest.raises(ValidationError) as info:
            POLICY.check(12345678)  # type: ignore[arg-type]
        assert info.value.code == "password.not_text"

    def test_require_raises_with_the_full_list(self) -> None:
        """require() raises PasswordRejected carrying every violation as data."""
        with pytest.raises(PasswordRejected) as info:
            POLICY.require("short")
        assert info.value.code == "password.rejected"
        assert [v["code"] for v in info.value.fields["violations"]] == [
            v.code for v in info.value.violations
        ]
        assert "password.too_short" in [v.code for v in info.value.violations]


#: The PW rules of the catalogue that are not checks of one password: time and reporting.
NOT_PER_PASSWORD = {
    "PW-11": "one change per 24 hours: a question of when, asked by change_allowed()",
    "PW-12": "expiry: a question of when, asked by is_expired()",
    "PW-13": "NIST deviations: a report on the policy, nist_deviations()",
}


class TestRules:
    """One row per rule: PasswordPolicy.rules is what check() and requirements() read."""

    def test_every_row_code_is_unique_and_is_a_violation_code(self) -> None:
        """No two rows share a code; the default policy's rows are VIOLATION_CODES, in order."""
        codes = [row.code for row in POLICY.rules]
        assert len(codes) == len(set(codes))
        assert tuple(codes) == VIOLATION_CODES

    def test_pw_1_to_10_each_per_password_rule_of_the_catalogue_has_its_row(self) -> None:
        """Every PW rule of the catalogue that checks a password has exactly one row
        (PW-1 two: its minimum and its maximum, two codes), in catalogue order; the
        others are named here with the reason they have none (PW-11, PW-12, PW-13)."""
        catalogue = [r.id for r in RULES.values() if r.family == "PW"]
        assert set(NOT_PER_PASSWORD) <= set(catalogue)
        per_password = [rid for rid in catalogue if rid not in NOT_PER_PASSWORD]
        rows = Counter(row.rule for row in POLICY.rules)
        assert rows == {rid: 2 if rid == "PW-1" else 1 for rid in per_password}
        in_order = list(dict.fromkeys(row.rule for row in POLICY.rules))
        assert in_order == per_password

    def test_pw_4_9_10_switched_off_rules_have_no_row(self) -> None:
        """A rule a field switches off leaves policy.rules, check() and the form's list."""
        policy = attrs.evolve(POLICY, require_special=False, max_repeat=None, history_depth=0)
        assert [row.rule for row in policy.rules if row.rule in {"PW-4", "PW-9", "PW-10"}] == []
        assert "password.no_special" not in [v.code for v in policy.check("Baaab1234")]
        assert [r.rule for r in policy.requirements()] == [
            f"PW-{n}" for n in (1, 2, 3, 5, 6, 7, 8, 11, 12)
        ]

    def test_pw_1_without_a_maximum_has_one_row_and_one_line(self) -> None:
        """max_length=None drops the too_long row; the PW-1 line states the minimum only."""
        policy = attrs.evolve(POLICY, max_length=None)
        assert [row.code for row in policy.rules if row.rule == "PW-1"] == ["password.too_short"]
        assert policy.requirements()[0].text == "At least 8 characters."
        assert policy.check("Blue#Sky42Blue#Sky42") == ()

    def test_pw_10_a_row_checks_a_candidate_on_its_own(self) -> None:
        """A host can run one row: its check sees the candidate's history through the hasher."""
        (reused,) = [row for row in POLICY.rules if row.rule == "PW-10"]
        candidate = PasswordCandidate(
            password="Blue#Sky42", history=[HASHES["Blue#Sky42"]], hasher=HASHER
        )
        assert not reused.check(POLICY, candidate)
        assert reused.message(POLICY, candidate) == (
            "Choose a password different from your last 6 passwords."
        )
        assert "Blue#Sky42" not in repr(candidate)

    def test_candidate_refuses_non_text_like_check(self) -> None:
        """A candidate built by hand refuses non-text as check() does (ER-1)."""
        with pytest.raises(ValidationError) as info:
            PasswordCandidate(password="Blue#Sky42", last_name=None)  # type: ignore[arg-type]
        assert info.value.code == "password.last_name_not_text"


class TestProperties:
    """Hypothesis: generated passwords against the policy."""

    @given(compliant())
    def test_pw_1_to_9_generated_compliant_passwords_pass(self, password: str) -> None:
        """Every password built to satisfy all rules has no violation."""
        assert codes(password) == []

    @given(st.data())
    @pytest.mark.parametrize("code", sorted(SINGLE_BREACHES))
    def test_pw_1_to_9_single_breach_reports_exactly_its_code(
        self, code: str, data: st.DataObject
    ) -> None:
        """A password breaking one rule is reported with exactly that rule's code."""
        password = data.draw(SINGLE_BREACHES[code])
        assert codes(password) == [code]

    @given(compliant(), st.sampled_from(range(6)))
    def test_pw_10_a_password_among_the_last_six_is_reused(
        self, password: str, position: int
    ) -> None:
        """A password whose hash is among the last 6 breaks exactly PW-10."""
        others = [HASHER.hash(f"Other#{i}x") for i in range(6)]
        others[position] = HASHER.hash(password)
        assert codes(password, history=others, hasher=HASHER) == ["password.reused"]

    @given(
        policies(),
        candidates() | st.sampled_from(REMEMBERED),
        st.lists(st.sampled_from(REMEMBERED), max_size=3),
        st.data(),
    )
    def test_pw_1_to_10_violations_are_exactly_the_rows_whose_check_fails(
        self, policy: PasswordPolicy, password: str, remembered: list[str], data: st.DataObject
    ) -> None:
        """For any policy, text, user ID, names and history, check() reports one violation
        per row of policy.rules whose check fails, with the row's code, rule and message,
        in the order of VIOLATION_CODES; the rows' checks, run alone in any order, find
        the same (PW-1..PW-10)."""
        user_id = data.draw(parts_of(password, "", USER_ID))
        first_name = data.draw(parts_of(password, "", FIRST_NAME, "Ann"))
        last_name = data.draw(parts_of(password, "", LAST_NAME, "Smith-Jones"))
        history = [HASHES[p] for p in remembered]
        candidate = PasswordCandidate(
            password=password,
            user_id=user_id,
            first_name=first_name,
            last_name=last_name,
            history=history,
            hasher=HASHER,
        )
        violations = policy.check(
            password,
            user_id=user_id,
            first_name=first_name,
            last_name=last_name,
            history=history,
            hasher=HASHER,
        )

        failing = [row for row in policy.rules if not row.check(policy, candidate)]
        assert violations == tuple(
            Violation(row.code, row.rule, row.message(policy, candidate)) for row in failing
        )
        shuffled = data.draw(st.permutations(policy.rules))
        alone = {row.code for row in shuffled if not row.check(policy, candidate)}
        assert [v.code for v in violations] == [c for c in VIOLATION_CODES if c in alone]
        positions = [VIOLATION_CODES.index(v.code) for v in violations]
        assert positions == sorted(set(positions))

    @given(st.text(max_size=20))
    def test_pw_1_length_is_reported_for_any_text(self, password: str) -> None:
        """Any text outside 8..12 characters gets exactly one length violation (PW-1)."""
        length_codes = [c for c in codes(password) if c.startswith("password.too_")]
        assert len(length_codes) == (0 if 8 <= len(password) <= 12 else 1)


class TestHistory:
    def test_pw_10_history_beyond_the_depth_is_not_compared(self) -> None:
        """Only the first history_depth hashes count (PW-10: the previous 6)."""
        old = HASHER.hash("Blue#Sky42")
        history = [HASHER.hash(f"Other#{i}x") for i in range(6)] + [old]
        assert codes("Blue#Sky42", history=history, hasher=HASHER) == []
        assert codes("Blue#Sky42", history=history[1:], hasher=HASHER) == ["password.reused"]

    def test_pw_10_history_needs_the_hasher(self) -> None:
        """Comparing with hashes without the hasher is refused clearly."""
        with pytest.raises(ValidationError) as info:
            POLICY.check("Blue#Sky42", history=[HASHER.hash("x")])
        assert info.value.code == "password.history_needs_hasher"

    def test_pw_10_reused_comes_last_with_other_violations(self) -> None:
        """PW-10 joins the other violations, in the stable order."""
        history = [HASHER.hash("abc")]
        assert codes("abc", history=history, hasher=HASHER)[-1] == "password.reused"


class TestTime:
    def test_pw_12_expires_exactly_at_60_days(self) -> None:
        """A password set at T0 is valid until T0 + 60 days and expired from then on."""
        expiry = T0 + timedelta(days=60)
        assert POLICY.expires_at(T0) == expiry
        assert not POLICY.is_expired(T0, expiry - timedelta(microseconds=1))
        assert POLICY.is_expired(T0, expiry)

    def test_pw_12_days_left_are_calendar_days_to_the_expiry_date(self) -> None:
        """Days left: 60 right after setting, 1 the day before the expiry date, 0 on that
        date (still valid until the hour) and once expired (EN-9: one count everywhere)."""
        assert POLICY.days_until_expiry(T0, T0) == 60
        assert POLICY.days_until_expiry(T0, T0 + timedelta(hours=1)) == 60
        assert POLICY.days_until_expiry(T0, T0 + timedelta(days=59)) == 1
        assert POLICY.days_until_expiry(T0, T0 + timedelta(days=59, hours=23)) == 0
        assert not POLICY.is_expired(T0, T0 + timedelta(days=59, hours=23))
        assert POLICY.days_until_expiry(T0, T0 + timedelta(days=60)) == 0

    def test_en_9_the_issue_example_reads_the_same_on_every_screen(self) -> None:
        """Set 2026-03-02 09:00: on 2026-03-06 at midnight 56 days are left, on 2026-05-01 at
        08:00 none, as the agenda counts them (EN-9 amended)."""
        set_at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        expires = POLICY.expires_at(set_at)
        assert expires is not None
        for now, left in (
            (datetime(2026, 3, 6, 0, 0, tzinfo=UTC), 56),
            (datetime(2026, 5, 1, 8, 0, tzinfo=UTC), 0),
        ):
            assert POLICY.days_until_expiry(set_at, now) == left == days_left(expires, now)

    @given(
        set_at=st.datetimes(
            min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
        ),
        after=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=59, hours=23)),
    )
    def test_en_9_pw_12_one_days_left_for_every_set_time(
        self, set_at: datetime, after: timedelta
    ) -> None:
        """For every time a password is set and every moment before it expires, the days
        left of PW-12 are the agenda's days left of its expiry (EN-9 amended)."""
        expires = POLICY.expires_at(set_at)
        assert expires is not None
        now = set_at + after
        assert POLICY.days_until_expiry(set_at, now) == days_left(expires, now)
        assert days_left(expires, now) == (expires.date() - now.date()).days

    def test_pw_12_no_expiry_when_max_age_is_none(self) -> None:
        """A policy without max_age never expires passwords."""
        policy = attrs.evolve(POLICY, max_age=None)
        assert policy.expires_at(T0) is None
        assert policy.days_until_expiry(T0, T0 + timedelta(days=999)) is None
        assert not policy.is_expired(T0, T0 + timedelta(days=999))

    def test_pw_11_one_change_per_24_hours_unless_forced_or_expired(self) -> None:
        """A change within 24 hours is refused unless reset (forced) or expired."""
        assert not POLICY.change_allowed(T0, T0 + timedelta(hours=23), forced=False)
        assert POLICY.change_allowed(T0, T0 + timedelta(hours=24), forced=False)
        assert POLICY.change_allowed(T0, T0 + timedelta(minutes=1), forced=True)
        assert POLICY.next_change_allowed_at(T0) == T0 + timedelta(hours=24)

    def test_naive_times_are_refused(self) -> None:
        """Time arithmetic refuses naive datetimes."""
        with pytest.raises(ValidationError):
            POLICY.is_expired(T0, datetime(2026, 1, 1))


class TestConfiguration:
    def test_pw_stricter_policy_is_built_by_changing_fields(self) -> None:
        """A 15-character minimum is a field change, not a subclass."""
        strict = attrs.evolve(POLICY, min_length=15, max_length=64)
        assert [v.code for v in strict.check("Blue#Sky42")] == ["password.too_short"]
        assert strict.requirements()[0].text == "Between 15 and 64 characters."

    def test_pw_looser_policy_switches_rules_off(self) -> None:
        """A NIST-like policy accepts a long passphrase with spaces."""
        loose = PasswordPolicy(
            min_length=15,
            max_length=None,
            require_letter=False,
            require_digit=False,
            require_special=False,
            restrict_characters=False,
            forbid_leading_digit=False,
            max_repeat=None,
            max_age=None,
        )
        assert loose.check("correct horse battery staple") == ()
        assert loose.nist_deviations()[-1].topic == "blocklist"

    def test_inconsistent_policy_is_refused(self) -> None:
        """A policy whose maximum is below its minimum is a ValidationError listing why."""
        with pytest.raises(ValidationError) as info:
            PasswordPolicy(min_length=10, max_length=8, specials="ab")
        assert info.value.code == "password_policy.invalid"
        assert len(info.value.fields["problems"]) == 2

    def test_policy_round_trips_through_the_converter(self) -> None:
        """A policy is data: it round-trips through the one converter (ST-4)."""
        assert from_data(to_data(POLICY), PasswordPolicy) == POLICY

    def test_pw_1_to_12_requirements_list_every_rule_for_a_form(self) -> None:
        """The form text has one line per rule, in rule order."""
        rules = [r.rule for r in POLICY.requirements()]
        assert rules == [f"PW-{n}" for n in range(1, 13)]
        assert POLICY.requirements()[3].text == (
            "At least one special character: ! @ # $ % ^ & * ? ~ _ - + ="
        )

    def test_pw_13_ia_policy_reports_its_nist_deviations(self) -> None:
        """The I&A policy names each deviation from NIST SP 800-63B (PW-13)."""
        topics = [d.topic for d in POLICY.nist_deviations()]
        assert topics == [
            "composition rules",
            "minimum length",
            "maximum length",
            "character set",
            "periodic expiry",
            "blocklist",
        ]
        assert all(d.reference.startswith("NIST SP 800-63B") for d in POLICY.nist_deviations())

    def test_generated_temporary_passwords_comply(self) -> None:
        """generate() returns passwords that pass the policy for that user."""
        for _ in range(20):
            password = POLICY.generate(user_id=USER_ID, last_name=LAST_NAME)
            assert codes(password) == []
