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

from collections.abc import Mapping
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

#: The catalogue, one rule a line: ID | basis | status | source | statement.
_TABLE: Final = """
NPI-1 | confirmed | implemented | 45 CFR 162.406                        | An NPI is 10 ASCII digits, the first 1 or 2.
NPI-2 | confirmed | implemented | 45 CFR 162.406                        | The 10th digit is the Luhn check digit over 80840 + the first 9 digits.
NPI-3 | confirmed | implemented | NPPES                                 | An NPI's type (1 individual, 2 organization) is recorded, not derived.
NPI-4 | confirmed | implemented | CMS PECOS guides                      | Organizations without an NPI are identified by legal name (and EIN).
PW-1  | confirmed | implemented | CMS I&A guide                         | A password has 8 to 12 characters.
PW-2  | confirmed | implemented | CMS I&A guide                         | A password has at least one letter.
PW-3  | confirmed | implemented | CMS I&A guide                         | A password has at least one digit.
PW-4  | confirmed | implemented | CMS I&A guide                         | A password has at least one accepted special character.
PW-5  | default   | implemented | CMS I&A guide                         | Only letters, digits and the accepted specials !@#$%^&*?~_-+=.
PW-6  | confirmed | implemented | CMS I&A guide                         | A password does not start with a digit.
PW-7  | confirmed | implemented | CMS I&A guide                         | A password does not equal or contain the user ID (any case).
PW-8  | confirmed | implemented | NPPES help (password compliance list) | A password does not contain the first or last name (3+ letters).
PW-9  | confirmed | implemented | NPPES help (password compliance list) | No character three times in a row.
PW-10 | confirmed | implemented | NPPES help (password compliance list) | A password differs from the previous 6.
PW-11 | default   | implemented | NPPES help (password compliance list) | At most one user change per 24 hours (expired or reset: always).
PW-12 | confirmed | implemented | CMS I&A guide                         | A password expires 60 days after it was set; logins report days left.
PW-13 | design    | implemented | enrollkit design                      | The policy reports where it deviates from NIST SP 800-63B.
AC-1  | confirmed | implemented | CMS I&A guide                         | A user ID is unique case-insensitively and never changes.
AC-2  | confirmed | implemented | CMS I&A guide                         | Three consecutive failed logins lock the account.
AC-3  | design    | implemented | enrollkit design                      | Login and recovery never reveal whether a user ID or e-mail exists.
AC-4  | confirmed | implemented | CMS I&A guide                         | Forgot user ID mails it; forgot password resets via security answers.
AC-5  | confirmed | implemented | CMS I&A guide                         | MFA after the password: a 6-digit one-time code via the notifier.
AC-6  | design    | implemented | OWASP Password Storage Cheat Sheet    | Secrets stored only as argon2id hashes (OWASP minimum), rehashed when weak.
AC-7  | confirmed | implemented | CMS I&A guide                         | No one acts as another user: delegation only via roles and connections.
AC-8  | confirmed | implemented | CMS I&A guide                         | Every use case acts for an authenticated principal; signing needs a fresh login.
AC-9  | confirmed | implemented | CMS I&A guide                         | Account upkeep: e-mail, questions, factors (TOTP); code sends rate-limited.
RO-1  | confirmed | implemented | CMS I&A guide                         | Roles: Individual Provider, Authorized Official, Access Manager, SEU, Surrogate.
RO-2  | confirmed | implemented | CMS I&A guide                         | The permission matrix of roles and actions.
RO-3  | confirmed | implemented | CMS I&A guide                         | SEU approved by AO/AM; AM by AO; AO by external verification.
RO-4  | confirmed | implemented | CMS I&A guide                         | No one grants a role they could not approve.
RO-5  | confirmed | implemented | CMS I&A guide; credentialer's guide   | An organization keeps one active AO, also under races; an IP grants AM or SEU on her profile.
RO-6  | confirmed | implemented | CMS I&A guide                         | Register with an employer by Type 2 NPI (or name/EIN); pending until decided.
RO-7  | confirmed | implemented | CMS invitation e-mail                 | Staff invitation for one or several employers, one single-use PIN expiring after 72 hours.
RO-8  | confirmed | implemented | CMS PECOS guides                      | An AO signs a PECOS application only if listed as AO/DO on the record.
RO-9  | confirmed | implemented | CMS I&A guide                         | A Type 1 profile is owned only after identity proofing; a proven holder recovers it.
CO-1  | confirmed | implemented | CMS I&A guide                         | A connection links a surrogate to one provider profile; none implies another.
CO-2  | confirmed | implemented | CMS I&A guide                         | A connection covers a non-empty subset of PECOS, NPPES, EHR.
CO-3  | confirmed | implemented | CMS I&A guide                         | Either side may initiate a connection.
CO-4  | confirmed | implemented | CMS I&A guide                         | The IP or an AO/AM approves or rejects, possibly a subset of systems.
CO-5  | confirmed | implemented | credentialer's guide                  | A pending request is rejected automatically after 30 days, sweep or not.
CO-6  | default   | implemented | enrollkit design                      | Connection states and transitions; terminal states never change.
CO-7  | design    | implemented | enrollkit design                      | Effective access: own profile, employer association, or approved connection.
CO-9  | confirmed | implemented | credentialer's guide                  | My Pending Connections lists what a user may answer; Approve All Selected is atomic; auto-rejected reads rejected.
CO-10 | design    | implemented | enrollkit design                      | One pending request per surrogate, profile and direction, also under races.
CO-8  | design    | implemented | enrollkit design                      | Every access decision explains itself: grant path, or missing fact and fixer.
EN-1  | confirmed | implemented | CMS PECOS guides                      | Kinds and forms (855I, 855B, 855A, 855S, 855R, 855O, 20134, 588).
EN-2  | design    | implemented | enrollkit design                      | Anyone with effective PECOS access may prepare and edit an application.
EN-3  | design    | implemented | enrollkit design                      | Sending for signature freezes a revision with a SHA-256 digest; changes make n+1.
EN-4  | confirmed | implemented | MAC PECOS signature guidance          | Application statuses; development response due in 30 days.
EN-5  | default   | implemented | CMS PECOS guides                      | Supporting documents are PDF or TIFF by content; 10 MiB limit.
EN-6  | confirmed | implemented | MAC PECOS signature guidance          | Legal name, NPI type and status, primary location block; other locations inform.
EN-7  | confirmed | implemented | 42 CFR 424.515, 424.516               | Revalidation on CMS's date (else estimated); reporting windows per provider kind.
EN-8  | confirmed | implemented | CMS PECOS guides                      | Reports: Medicare IDs, approved record, pending and active reassignments.
EN-9  | design    | implemented | enrollkit design                      | One agenda of everything due, 7 months ahead, with one days-left count everywhere.
EN-10 | confirmed | implemented | CMS PECOS guides                      | The enrollment record exists apart from applications and can be imported.
EN-11 | confirmed | implemented | 42 CFR 424.520, 424.521, 424.540      | Effective dates, retrospective billing, deactivation and reactivation.
EN-12 | confirmed | implemented | CMS-855R instructions                 | Either party may terminate a reassignment alone; only that party signs.
EN-13 | confirmed | implemented | CMS PECOS guides                      | Each form, kind and provider type has a checklist of required documents.
EN-14 | confirmed | implemented | CMS PECOS guides                      | A PECOS change of name, address or structure creates an NPPES to-do, and back.
EN-15 | confirmed | implemented | 42 CFR 424.514                        | Application fee by form, provider type and kind; receipt or hardship.
SG-1  | confirmed | implemented | MAC PECOS signature guidance          | Required signer slots per form, kind and reassignment.
SG-2  | design    | implemented | enrollkit design                      | Freezing a revision opens one signature request per slot, with a notification.
SG-3  | confirmed | implemented | MAC PECOS signature guidance          | Electronic signatures, or paper from a signer listed on the record (slower).
SG-4  | design    | implemented | enrollkit design                      | A signature records signer, slot, role, method, time, revision and digest.
SG-5  | confirmed | implemented | MAC PECOS signature guidance          | A new revision supersedes every signature and open request of the old one.
SG-6  | design    | implemented | enrollkit design                      | Submitted when every slot holds a valid signature on the current digest.
SG-7  | design    | implemented | enrollkit design                      | A signer may decline with a reason; the application returns to draft.
SG-8  | design    | implemented | enrollkit design                      | Signature events are audited; a signature certificate can be exported.
SG-9  | design    | implemented | enrollkit design                      | A signer signs the revision digest they reviewed; a stale digest is refused.
AU-1  | design    | implemented | enrollkit design                      | Every state change is an event in an append-only, hash-chained (HMAC with a host key) log; anchors catch truncation.
ST-1  | design    | implemented | enrollkit design                      | Each aggregate has a repository; a unit of work commits all or nothing.
ST-2  | design    | implemented | enrollkit design                      | Optimistic concurrency: saving a stale version raises a conflict.
ST-3  | design    | implemented | enrollkit design                      | Storage shipped: in-memory, SQLite and PostgreSQL, one contract suite.
ST-4  | design    | implemented | enrollkit design                      | Every domain object round-trips through one cattrs converter.
ER-1  | design    | implemented | enrollkit design                      | Every refusal is an EnrollkitError with a stable code, a short echo and an actionable message.
"""


def _build(table: str) -> Mapping[str, Rule]:
    rules: dict[str, Rule] = {}
    for line in table.strip().splitlines():
        rule_id, basis, status, source, statement = (part.strip() for part in line.split(" | ", 4))
        family = rule_id.split("-", 1)[0]
        rules[rule_id] = Rule(rule_id, family, statement, Basis(basis), source, Status(status))
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
