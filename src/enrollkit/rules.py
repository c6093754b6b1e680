"""The rule catalogue: every rule of RULES.md, in code.

Each :class:`Rule` has the rulebook's stable ID, a one-line statement,
whether its number or behaviour is *confirmed* by a public source or a
documented *default*, the source, and whether enrollkit implements it yet.
Code, tests and docs cite these IDs; a meta-test keeps the catalogue, the
rulebook and the tests in step, and the docs page is rendered from here.

>>> RULES["NPI-2"].basis
<Basis.CONFIRMED: 'confirmed'>
>>> rule("PW-99")
Traceback (most recent call last):
...
enrollkit.errors.NotFoundError: No rule PW-99 in the catalogue; rule IDs look like 'PW-6' or 'CO-5'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from types import MappingProxyType
from typing import Final

import attrs

from enrollkit.errors import NotFoundError

__all__ = ["RULES", "Basis", "Rule", "Status", "render_markdown", "rule"]


class Basis(Enum):
    """Where a rule's value comes from."""

    CONFIRMED = "confirmed"  #: stated by a public source (CMS, MAC, NPPES, CFR)
    DEFAULT = "default"  #: the sources are silent or disagree: a documented, configurable default
    DESIGN = "design"  #: a property of enrollkit itself (audit, storage, errors)


class Status(Enum):
    """Whether enrollkit enforces the rule yet."""

    IMPLEMENTED = "implemented"
    PLANNED = "planned"


@attrs.frozen
class Rule:
    """One rule of the rulebook."""

    id: str
    family: str
    statement: str
    basis: Basis
    source: str
    status: Status


_FAMILIES: Final = {
    "NPI": "NPI: National Provider Identifier",
    "PW": "Passwords (the I&A policy)",
    "AC": "Accounts",
    "RO": "Roles and employers",
    "CO": "Connections (surrogacy)",
    "EN": "Enrollment applications",
    "SG": "Signatures",
    "AU": "Audit",
    "ST": "Storage",
    "ER": "Errors",
}

_C, _D, _X = Basis.CONFIRMED, Basis.DEFAULT, Basis.DESIGN
_I, _P = Status.IMPLEMENTED, Status.PLANNED

_CMS_IA = "CMS I&A guide"
_NPPES = "NPPES help (password compliance list)"
_PECOS = "CMS PECOS guides"
_MAC = "MAC PECOS signature guidance"
_ENK = "enrollkit design"

# (id, statement, basis, source, status)
_TABLE: Final[tuple[tuple[str, str, Basis, str, Status], ...]] = (
    ("NPI-1", "An NPI is 10 ASCII digits, the first 1 or 2.", _C, "45 CFR 162.406", _I),
    (
        "NPI-2",
        "The 10th digit is the Luhn check digit over 80840 + the first 9 digits.",
        _C,
        "45 CFR 162.406",
        _I,
    ),
    (
        "NPI-3",
        "An NPI's type (1 individual, 2 organization) is recorded, not derived.",
        _C,
        "NPPES",
        _I,
    ),
    (
        "NPI-4",
        "Organizations without an NPI are identified by legal name (and EIN).",
        _C,
        _PECOS,
        _I,
    ),
    ("PW-1", "A password has 8 to 12 characters.", _C, _CMS_IA, _I),
    ("PW-2", "A password has at least one letter.", _C, _CMS_IA, _I),
    ("PW-3", "A password has at least one digit.", _C, _CMS_IA, _I),
    ("PW-4", "A password has at least one accepted special character.", _C, _CMS_IA, _I),
    ("PW-5", "Only letters, digits and the accepted specials !@#$%^&*?~_-+=.", _D, _CMS_IA, _I),
    ("PW-6", "A password does not start with a digit.", _C, _CMS_IA, _I),
    ("PW-7", "A password does not equal or contain the user ID (any case).", _C, _CMS_IA, _I),
    ("PW-8", "A password does not contain the first or last name (3+ letters).", _C, _NPPES, _I),
    ("PW-9", "No character three times in a row.", _C, _NPPES, _I),
    ("PW-10", "A password differs from the previous 6.", _C, _NPPES, _I),
    ("PW-11", "At most one user change per 24 hours (expired or reset: always).", _D, _NPPES, _I),
    (
        "PW-12",
        "A password expires 60 days after it was set; logins report days left.",
        _C,
        _CMS_IA,
        _I,
    ),
    ("PW-13", "The policy reports where it deviates from NIST SP 800-63B.", _X, _ENK, _I),
    ("AC-1", "A user ID is unique case-insensitively and never changes.", _C, _CMS_IA, _I),
    ("AC-2", "Three consecutive failed logins lock the account.", _C, _CMS_IA, _I),
    ("AC-3", "Login and recovery never reveal whether a user ID or e-mail exists.", _X, _ENK, _I),
    (
        "AC-4",
        "Forgot user ID mails it; forgot password resets via security answers.",
        _C,
        _CMS_IA,
        _I,
    ),
    ("AC-5", "MFA after the password: a 6-digit one-time code via the notifier.", _C, _CMS_IA, _I),
    (
        "AC-6",
        "Secrets stored only as argon2id hashes (OWASP minimum), rehashed when weak.",
        _X,
        "OWASP Password Storage Cheat Sheet",
        _I,
    ),
    (
        "AC-7",
        "No one acts as another user: delegation only via roles and connections.",
        _C,
        _CMS_IA,
        _I,
    ),
    (
        "AC-8",
        "Every use case acts for an authenticated principal; signing needs a fresh login.",
        _C,
        _CMS_IA,
        _I,
    ),
    (
        "AC-9",
        "Account upkeep: e-mail, questions, factors (TOTP); code sends rate-limited.",
        _C,
        _CMS_IA,
        _I,
    ),
    (
        "RO-1",
        "Roles: Individual Provider, Authorized Official, Access Manager, SEU, Surrogate.",
        _C,
        _CMS_IA,
        _I,
    ),
    ("RO-2", "The permission matrix of roles and actions.", _C, _CMS_IA, _I),
    ("RO-3", "SEU approved by AO/AM; AM by AO; AO by external verification.", _C, _CMS_IA, _I),
    ("RO-4", "No one grants a role they could not approve.", _C, _CMS_IA, _I),
    (
        "RO-5",
        "An organization keeps one active AO, also under races; an IP grants AM or SEU on her profile.",
        _C,
        "CMS I&A guide; credentialer's guide",
        _I,
    ),
    (
        "RO-6",
        "Register with an employer by Type 2 NPI (or name/EIN); pending until decided.",
        _C,
        _CMS_IA,
        _I,
    ),
    (
        "RO-7",
        "Staff invitation for one or several employers, one single-use PIN expiring after 72 hours.",
        _C,
        "CMS invitation e-mail",
        _I,
    ),
    (
        "RO-8",
        "An AO signs a PECOS application only if listed as AO/DO on the record.",
        _C,
        _PECOS,
        _I,
    ),
    (
        "RO-9",
        "A Type 1 profile is owned only after identity proofing; a proven holder recovers it.",
        _C,
        _CMS_IA,
        _I,
    ),
    (
        "CO-1",
        "A connection links a surrogate to one provider profile; none implies another.",
        _C,
        _CMS_IA,
        _I,
    ),
    ("CO-2", "A connection covers a non-empty subset of PECOS, NPPES, EHR.", _C, _CMS_IA, _I),
    ("CO-3", "Either side may initiate a connection.", _C, _CMS_IA, _I),
    (
        "CO-4",
        "The IP or an AO/AM approves or rejects, possibly a subset of systems.",
        _C,
        _CMS_IA,
        _I,
    ),
    (
        "CO-5",
        "A pending request is rejected automatically after 30 days, sweep or not.",
        _C,
        "credentialer's guide",
        _I,
    ),
    ("CO-6", "Connection states and transitions; terminal states never change.", _D, _ENK, _I),
    (
        "CO-7",
        "Effective access: own profile, employer association, or approved connection.",
        _X,
        _ENK,
        _I,
    ),
    (
        "CO-9",
        "My Pending Connections lists what a user may answer; Approve All Selected is "
        "atomic; auto-rejected reads rejected.",
        _C,
        "credentialer's guide",
        _I,
    ),
    (
        "CO-10",
        "One pending request per surrogate, profile and direction, also under races.",
        _X,
        _ENK,
        _I,
    ),
    (
        "CO-8",
        "Every access decision explains itself: grant path, or missing fact and fixer.",
        _X,
        _ENK,
        _I,
    ),
    ("EN-1", "Kinds and forms (855I, 855B, 855A, 855S, 855R).", _C, _PECOS, _I),
    (
        "EN-2",
        "Anyone with effective PECOS access may prepare and edit an application.",
        _X,
        _ENK,
        _I,
    ),
    (
        "EN-3",
        "Sending for signature freezes a revision with a SHA-256 digest; changes make n+1.",
        _X,
        _ENK,
        _I,
    ),
    ("EN-4", "Application statuses; development response due in 30 days.", _C, _MAC, _I),
    ("EN-5", "Supporting documents are PDF or TIFF by content; 10 MiB limit.", _D, _PECOS, _I),
    (
        "EN-6",
        "Legal name, NPI type and status, primary location block; other locations inform.",
        _C,
        _MAC,
        _I,
    ),
    (
        "EN-7",
        "Revalidation on CMS's date (else estimated); reporting windows per provider kind.",
        _C,
        "42 CFR 424.515, 424.516",
        _I,
    ),
    (
        "EN-8",
        "Reports: Medicare IDs, approved record, pending and active reassignments.",
        _C,
        _PECOS,
        _I,
    ),
    (
        "EN-9",
        "One agenda of everything due, 7 months ahead, with one days-left count everywhere.",
        _X,
        _ENK,
        _I,
    ),
    (
        "EN-10",
        "The enrollment record exists apart from applications and can be imported.",
        _C,
        _PECOS,
        _P,
    ),
    (
        "EN-11",
        "Effective dates, retrospective billing, deactivation and reactivation.",
        _C,
        "42 CFR 424.520, 424.521, 424.540",
        _P,
    ),
    (
        "EN-12",
        "Either party may terminate a reassignment alone; only that party signs.",
        _C,
        "CMS-855R instructions",
        _I,
    ),
    ("EN-13", "Each form and kind has a checklist of required documents.", _C, _PECOS, _P),
    (
        "EN-14",
        "A PECOS change of name, address or structure creates an NPPES to-do, and back.",
        _C,
        _PECOS,
        _I,
    ),
    (
        "EN-15",
        "Application fee by form, provider type and kind; receipt or hardship.",
        _C,
        "42 CFR 424.514",
        _P,
    ),
    ("SG-1", "Required signer slots per form, kind and reassignment.", _C, _MAC, _I),
    (
        "SG-2",
        "Freezing a revision opens one signature request per slot, with a notification.",
        _X,
        _ENK,
        _I,
    ),
    (
        "SG-3",
        "Electronic signatures, or paper from a signer listed on the record (slower).",
        _C,
        _MAC,
        _I,
    ),
    (
        "SG-4",
        "A signature records signer, slot, role, method, time, revision and digest.",
        _X,
        _ENK,
        _I,
    ),
    (
        "SG-5",
        "A new revision supersedes every signature and open request of the old one.",
        _C,
        _MAC,
        _I,
    ),
    (
        "SG-6",
        "Submitted when every slot holds a valid signature on the current digest.",
        _X,
        _ENK,
        _I,
    ),
    ("SG-7", "A signer may decline with a reason; the application returns to draft.", _X, _ENK, _I),
    (
        "SG-8",
        "Signature events are audited; a signature certificate can be exported.",
        _X,
        _ENK,
        _I,
    ),
    (
        "SG-9",
        "A signer signs the revision digest they reviewed; a stale digest is refused.",
        _X,
        _ENK,
        _I,
    ),
    (
        "AU-1",
        "Every state change is an event in an append-only, hash-chained (HMAC with a host key) log; anchors catch truncation.",
        _X,
        _ENK,
        _I,
    ),
    (
        "ST-1",
        "Each aggregate has a repository; a unit of work commits all or nothing.",
        _X,
        _ENK,
        _I,
    ),
    ("ST-2", "Optimistic concurrency: saving a stale version raises a conflict.", _X, _ENK, _I),
    (
        "ST-3",
        "Storage shipped: in-memory, SQLite and PostgreSQL, one contract suite.",
        _X,
        _ENK,
        _I,
    ),
    ("ST-4", "Every domain object round-trips through one cattrs converter.", _X, _ENK, _I),
    (
        "ER-1",
        "Every refusal is an EnrollkitError with a stable code, a short echo and an actionable message.",
        _X,
        _ENK,
        _I,
    ),
)


def _build(table: Iterable[tuple[str, str, Basis, str, Status]]) -> Mapping[str, Rule]:
    rules: dict[str, Rule] = {}
    for rule_id, statement, basis, source, status in table:
        family = rule_id.split("-", 1)[0]
        rules[rule_id] = Rule(rule_id, family, statement, basis, source, status)
    return MappingProxyType(rules)


#: Every rule by ID, in rulebook order.
RULES: Final[Mapping[str, Rule]] = _build(_TABLE)


def rule(rule_id: str) -> Rule:
    """Return the rule with this ID or raise NotFoundError."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise NotFoundError(
            "rule.not_found",
            f"No rule {rule_id} in the catalogue; rule IDs look like 'PW-6' or 'CO-5'.",
            id=rule_id,
        ) from None


def render_markdown() -> str:
    """The catalogue as a Markdown page (the docs' rule catalogue)."""
    implemented = sum(r.status is Status.IMPLEMENTED for r in RULES.values())
    lines = [
        "# Rule catalogue",
        "",
        "Generated from `enrollkit.rules`; the rulebook's IDs are cited by the code that",
        "enforces each rule and by the tests that prove it.",
        "",
        f"{implemented} of {len(RULES)} rules implemented.",
        "",
    ]
    for family, title in _FAMILIES.items():
        lines += [
            f"## {title}",
            "",
            "| ID | rule | basis | source | status |",
            "|---|---|---|---|---|",
        ]
        for r in RULES.values():
            if r.family == family:
                lines.append(
                    f"| {r.id} | {r.statement} | {r.basis.value} | {r.source} | {r.status.value} |"
                )
        lines.append("")
    return "\n".join(lines)
