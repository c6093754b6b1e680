"""The FastAPI host example (examples/fastapi_host): the integrator's path over HTTP.

Two people register and log in (password, then the e-mailed code), a provider claims
her profile, a credentialing company registers, asks for a connection, the provider
approves it from My Pending Connections, the decision explains itself, an application
is created, sent for signature and signed, and the agenda follows; errors map to
HTTP statuses by family; no response ever carries a secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient

from enrollkit import (
    NPI,
    ConflictError,
    Enrollkit,
    EnrollkitError,
    ExpiredError,
    FixedClock,
    InMemoryNotifier,
    InvalidTransitionError,
    NotFoundError,
    NotPermittedError,
    NPIType,
    SequentialIds,
    SerializationError,
    StorageError,
    ValidationError,
)
from enrollkit.access import InMemoryProofer, InMemoryVerifier
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.enrollment import Address, InMemoryNppesDirectory, NppesRecord
from enrollkit.hashing import FAST_INSECURE_PARAMETERS, Argon2Hasher
from enrollkit.identity import PasswordRejected
from examples.fastapi_host import Host, TokenStore, Unauthenticated, create_app, status_for
from examples.fastapi_host.running import MailDropNotifier, kit_from_environment

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECRET_KEY = b"fastapi-host-example-secret-key!"
ANA_NPI = "1234567893"
OFFICE = Address("480 Harbor Boulevard", "Annapolis", "MD", "21401")
PASSWORDS = {"ARivera1": "Aq#Harbor6", "CMendez3": "Cq#Harbor6"}
EMAILS = {"ARivera1": "ana@riverapeds.example", "CMendez3": "carla@summitcred.example"}
NAMES = {"ARivera1": ("Ana", "Rivera"), "CMendez3": ("Carla", "Mendez")}


class Answer(Protocol):
    """What the tests read of an HTTP response (TestClient's, from httpx or its successor
    httpx2, whichever the installed Starlette uses)."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    def json(self, **kwargs: Any) -> Any: ...


class World:
    """The kit's parts a test holds on to, and an HTTP client that keeps every answer."""

    def __init__(self, path: Path) -> None:
        self.clock = FixedClock(T0)
        self.outbox = InMemoryNotifier()
        self.verifier = InMemoryVerifier()
        self.proofer = InMemoryProofer()
        self.nppes = InMemoryNppesDirectory()
        self.kit = Enrollkit(
            storage=SQLiteStorage(path),
            secret_key=SECRET_KEY,
            clock=self.clock,
            notifier=self.outbox,
            ids=SequentialIds(),
            hasher=Argon2Hasher(FAST_INSECURE_PARAMETERS),
            verifier=self.verifier,
            proofer=self.proofer,
            nppes=self.nppes,
        )
        self.app = create_app(self.kit)
        self.client = TestClient(self.app)
        self.answers: list[Answer] = []
        self.tokens: dict[str, str] = {}

    @property
    def host(self) -> Host:
        host = self.app.state.host
        assert isinstance(host, Host)
        return host

    def call(self, method: str, url: str, *, as_user: str | None = None, **kwargs: Any) -> Answer:
        headers = dict(kwargs.pop("headers", {}))
        if as_user is not None:
            headers["Authorization"] = f"Bearer {self.tokens[as_user]}"
        answer = self.client.request(method, url, headers=headers, **kwargs)
        self.answers.append(answer)
        return answer

    def ok(self, method: str, url: str, *, status: int = 200, **kwargs: Any) -> Any:
        answer = self.call(method, url, **kwargs)
        assert answer.status_code == status, answer.text
        return answer.json()

    def register(self, user_id: str) -> str:
        questions = self.ok("GET", "/security-questions")["questions"][:3]
        first, last = NAMES[user_id]
        account = self.ok(
            "POST",
            "/accounts",
            status=201,
            json={
                "user_id": user_id,
                "password": PASSWORDS[user_id],
                "first_name": first,
                "last_name": last,
                "email": EMAILS[user_id],
                "security_answers": {q: f"answer {i}" for i, q in enumerate(questions)},
            },
        )
        assert isinstance(account["id"], str)
        return account["id"]

    def login(self, user_id: str) -> dict[str, Any]:
        first = self.ok("POST", "/login", json={"user_id": user_id, "password": PASSWORDS[user_id]})
        assert first["outcome"] == "mfa_required"
        mail = self.outbox.last(EMAILS[user_id], "mfa.code")
        assert mail is not None and mail.secret is not None
        done = self.ok("POST", "/login/code", json={"user_id": user_id, "code": mail.secret})
        assert done["outcome"] == "authenticated"
        self.tokens[user_id] = done["token"]
        return dict(done)

    def secrets(self) -> set[str]:
        """Every secret of the story: passwords, answers, codes and PINs sent, seals."""
        found = set(PASSWORDS.values()) | {f"answer {i}" for i in range(3)}
        found |= {n.secret for n in self.outbox.sent if n.secret is not None}
        found |= {self.host.tokens.principal(t).seal for t in self.tokens.values()}
        return found


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A fresh host on a temporary SQLite file, a clock at T0 and a recording notifier."""
    world = World(tmp_path / "host.db")
    with world.kit, world.client:
        yield world


@pytest.fixture
def story(world: World) -> World:
    """Ana (a provider, with her NPI in NPPES) and Carla (a credentialer) logged in."""
    world.nppes.put(
        NppesRecord(
            NPI(ANA_NPI), "Ana Rivera MD", practice_addresses=(OFFICE,), npi_type=NPIType.INDIVIDUAL
        )
    )
    for user_id in PASSWORDS:
        world.register(user_id)
        world.login(user_id)
    return world


def _attach_license(world: World, application_id: str) -> None:
    """The credentialer attaches Ana's state license, raw PDF bytes (EN-5, EN-13)."""
    ref = world.ok(
        "POST",
        f"/applications/{application_id}/documents?filename=license.pdf&kind=state_license",
        status=201,
        as_user="CMendez3",
        content=b"%PDF-1.7 state license",
        headers={"Content-Type": "application/pdf"},
    )
    assert (ref["kind"], ref["media_type"]) == ("state_license", "application/pdf")


def _content() -> dict[str, Any]:
    return {
        "legal_business_name": "Ana Rivera MD",
        "npi": ANA_NPI,
        "practitioner": {
            "first_name": "Ana",
            "last_name": "Rivera",
            "email": EMAILS["ARivera1"],
        },
        "practice_locations": [
            {
                "name": "Harbor office",
                "address": {
                    "line1": OFFICE.line1,
                    "city": OFFICE.city,
                    "state": OFFICE.state,
                    "zip_code": OFFICE.zip_code,
                },
            }
        ],
        "effective_date": "2026-04-01",
    }


def _connected(story: World) -> tuple[str, str, str]:
    """Ana's proven profile, Summit (Carla's verified organization) and the connection
    Ana approved for PECOS: (profile id, organization id, connection id)."""
    ana = story.ok("GET", "/me", as_user="ARivera1")["account"]["id"]
    carla = story.ok("GET", "/me", as_user="CMendez3")["account"]["id"]
    story.proofer.approve(ANA_NPI, ana, reference="IDP-1")
    claim = story.ok(
        "POST",
        "/profiles/claims",
        status=201,
        as_user="ARivera1",
        json={"npi": ANA_NPI, "legal_name": "Ana Rivera MD"},
    )
    profile_id = claim["profile"]["id"]
    summit = story.ok(
        "POST",
        "/organizations",
        status=201,
        as_user="CMendez3",
        json={"legal_name": "Summit Credentialing LLC", "ein": "47-1234567"},
    )
    org_id = summit["organization"]["id"]
    story.verifier.approve(org_id, carla, reference="HD-1")
    association = story.ok(
        "POST",
        f"/associations/{summit['association']['id']}/verification",
        as_user="CMendez3",
    )
    assert association["state"] == "active"
    connection = story.ok(
        "POST",
        "/connections",
        status=201,
        as_user="CMendez3",
        json={"surrogate_id": org_id, "profile_id": profile_id, "systems": ["PECOS"]},
    )
    (row,) = story.ok("GET", "/connections/pending", as_user="ARivera1")
    assert row["connection"]["id"] == connection["id"]
    (approved,) = story.ok(
        "POST",
        "/connections/approve-selected",
        as_user="ARivera1",
        json={"selections": {connection["id"]: None}},
    )
    assert approved["state"] == "approved"
    return profile_id, org_id, connection["id"]


class TestTheIntegratorsPath:
    def test_register_login_connect_explain_apply_sign_and_the_agenda(self, world: World) -> None:
        """The whole path over HTTP, each answer what the facade answered, converted."""
        world.nppes.put(
            NppesRecord(
                NPI(ANA_NPI),
                "Ana Rivera MD",
                practice_addresses=(OFFICE,),
                npi_type=NPIType.INDIVIDUAL,
            )
        )
        ana, carla = world.register("ARivera1"), world.register("CMendez3")
        assert (ana, carla) == ("acct-000001", "acct-000002")

        # Login: the password answers where the code went, never the code (AC-5).
        first = world.ok("POST", "/login", json={"user_id": "ARivera1", "password": "Aq#Harbor6"})
        assert first == {
            "outcome": "mfa_required",
            "user_id": "ARivera1",
            "factor_kind": "email",
            "destination_hint": "a***@riverapeds.example",
            "expires_at": "2026-03-02T09:10:00+00:00",
        }
        code = world.outbox.last(EMAILS["ARivera1"], "mfa.code")
        assert code is not None and code.secret is not None
        done = world.ok("POST", "/login/code", json={"user_id": "ARivera1", "code": code.secret})
        assert done["outcome"] == "authenticated"
        assert done["account_id"] == ana and done["days_until_expiry"] == 60
        assert "principal" not in done and done["token_type"] == "bearer"
        world.tokens["ARivera1"] = done["token"]
        world.login("CMendez3")

        # The token maps to the principal the login answered, kept server-side (AC-8).
        me = world.ok("GET", "/me", as_user="ARivera1")
        assert me["principal"] == {
            "kind": "account",
            "id": ana,
            "authenticated_at": "2026-03-02T09:00:00+00:00",
            "method": "login",
        }
        assert world.host.tokens.principal(done["token"]).id == ana

        # Claim, register, connect, approve from My Pending Connections (RO-9, CO-9).
        profile_id, org_id, connection_id = _connected(world)
        assert (profile_id, org_id, connection_id) == ("prof-000001", "org-000001", "conn-000001")

        # The decision explains itself (CO-7).
        decision = world.ok(
            "GET",
            "/decisions",
            as_user="CMendez3",
            params={"action": "act_on_behalf", "profile_id": profile_id, "system": "PECOS"},
        )
        assert decision["allowed"] is True
        assert decision["grant"]["connection_id"] == connection_id
        assert decision["explanation"].endswith("in PECOS (CO-7).")
        assert "Summit Credentialing LLC" in decision["explanation"]
        refused = world.ok(
            "GET",
            "/decisions",
            as_user="CMendez3",
            params={"action": "act_on_behalf", "profile_id": profile_id, "system": "NPPES"},
        )
        assert refused["allowed"] is False
        assert refused["denial"]["code"] == "access.system_not_covered"

        # Carla's company prepares Ana's 855I, sends it for signature (EN-2, EN-3, SG-2).
        app = world.ok(
            "POST",
            "/applications",
            status=201,
            as_user="CMendez3",
            json={
                "profile_id": profile_id,
                "form": "855I",
                "kind": "initial",
                "content": _content(),
            },
        )
        assert (app["id"], app["status"]) == ("app-000001", "draft")
        # An initial 855I needs the state license (EN-13): sending without it names it.
        missing = world.call(
            "POST", f"/applications/{app['id']}/send-for-signature", as_user="CMendez3"
        )
        assert missing.status_code == 422
        assert missing.json()["code"] == "application.missing_documents"
        assert "state license" in missing.json()["message"]
        _attach_license(world, app["id"])
        needs = world.ok("GET", f"/applications/{app['id']}/requirements", as_user="CMendez3")
        assert needs["missing"] == [] and needs["fee"] is None
        sent = world.ok("POST", f"/applications/{app['id']}/send-for-signature", as_user="CMendez3")
        assert sent["status"] == "pending_signatures"
        assert world.outbox.last(EMAILS["ARivera1"], "signature.requested") is not None

        # Ana's agenda shows the signature she owes, with its days left (EN-9).
        due = world.ok("GET", "/agenda", as_user="ARivera1")
        assert [(i["kind"], i["days_left"]) for i in due] == [
            ("signature.awaited", 30),
            ("password.expiry", 60),
        ]
        assert app["id"] in due[0]["title"]

        # She reads what she signs and names it by its digest (SG-9); it is submitted.
        seen = world.ok("GET", f"/applications/{app['id']}", as_user="ARivera1")
        digest = seen["revisions"][-1]["digest"]
        sheet = world.ok("GET", f"/applications/{app['id']}/signatures", as_user="ARivera1")
        assert [(r["slot"]["name"], r["candidates"]) for r in sheet["requests"]] == [
            ("individual", [ana])
        ]
        signed = world.ok(
            "POST",
            f"/applications/{app['id']}/signatures",
            as_user="ARivera1",
            json={
                "slot": "individual",
                "digest": digest,
                "confirmed_email": EMAILS["ARivera1"],
                "attestations": ["accuracy", "electronic_signature"],
            },
        )
        assert signed["status"] == "submitted"
        after = world.ok("GET", "/agenda", as_user="ARivera1")
        assert [i["kind"] for i in after] == ["password.expiry"]
        assert world.kit.verify_audit().ok

        # Logout forgets the token.
        assert world.call("POST", "/logout", as_user="CMendez3").status_code == 204
        assert world.call("GET", "/me", as_user="CMendez3").status_code == 401

    def test_no_answer_ever_carries_a_password_code_answer_or_seal(self, story: World) -> None:
        """Passwords, security answers, one-time codes and principal seals appear in no
        response body or header, on success or on failure (AC-6, AC-8)."""
        _connected(story)
        story.call("POST", "/login", json={"user_id": "ARivera1", "password": "wrong#Pass1"})
        story.call("POST", "/login/code", json={"user_id": "CMendez3", "code": "123456"})
        story.call("POST", "/login", json={"user_id": "ARivera1", "password": {"x": 1}})
        story.call(
            "POST",
            "/accounts",
            json={"user_id": "X", "password": "Aq#Harbor6", "security_answers": {"q": 1}},
        )
        story.call("PUT", "/me/password", as_user="ARivera1", json={"current_password": 7})
        secrets = story.secrets()
        assert len(secrets) >= 8
        for number, answer in enumerate(story.answers):
            seen = answer.text + json.dumps(dict(answer.headers))
            leaked = sorted(s for s in secrets if s in seen)
            assert leaked == [], f"answer {number} leaked a secret"

    def test_a_changed_password_ends_the_old_token_and_answers_a_new_one(
        self, story: World
    ) -> None:
        """PUT /me/password changes it (PW-11 waits 24 hours after registration) and hands
        back a new token; the old one is forgotten (AC-8)."""
        story.clock.advance(days=1, minutes=1)
        story.login("ARivera1")
        old = story.tokens["ARivera1"]
        changed = story.ok(
            "PUT",
            "/me/password",
            as_user="ARivera1",
            json={"current_password": "Aq#Harbor6", "new_password": "Zq#Lantern8"},
        )
        assert changed["account_id"] == "acct-000001" and changed["token"] != old
        assert story.call("GET", "/me", as_user="ARivera1").status_code == 401
        story.tokens["ARivera1"] = changed["token"]
        assert story.ok("GET", "/me", as_user="ARivera1")["principal"]["id"] == "acct-000001"


class TestErrorMapping:
    def _error(self, answer: Answer, status: int, code: str) -> dict[str, Any]:
        assert answer.status_code == status, answer.text
        body = answer.json()
        assert set(body) == {"code", "message", "fields"}
        assert body["code"] == code
        return dict(body)

    def test_a_garbage_body_is_422_with_our_code(self, story: World) -> None:
        """A body FastAPI cannot read answers enrollkit's shape, request.invalid, naming
        where each problem is and never echoing the input (ER-1)."""
        body = self._error(
            story.call(
                "POST",
                "/login",
                content=b"{not json",
                headers={"Content-Type": "application/json"},
            ),
            422,
            "request.invalid",
        )
        assert body["fields"]["errors"][0]["type"] == "json_invalid"
        body = self._error(
            story.call("POST", "/login", json={"user_id": "ARivera1", "password": ["Aq#Harbor6"]}),
            422,
            "request.invalid",
        )
        assert body["fields"]["errors"][0]["loc"] == ["body", "password"]
        assert "Aq#Harbor6" not in json.dumps(body)
        self._error(
            story.call(
                "GET",
                "/decisions",
                as_user="ARivera1",
                params={"action": "rule", "profile_id": "p"},
            ),
            422,
            "request.invalid",
        )

    def test_enrollkits_own_refusals_keep_their_codes(self, story: World) -> None:
        """A value enrollkit refuses is 422 with enrollkit's code: an NPI's check digit,
        an application content the converter cannot read, a weak password."""
        self._error(
            story.call(
                "POST",
                "/profiles/claims",
                as_user="ARivera1",
                json={"npi": "1234567890", "legal_name": "Ana Rivera MD"},
            ),
            422,
            "npi.check_digit",
        )
        profile_id, _org, _conn = _connected(story)
        self._error(
            story.call(
                "POST",
                "/applications",
                as_user="CMendez3",
                json={
                    "profile_id": profile_id,
                    "form": "855I",
                    "kind": "initial",
                    "content": {"npi": "nope"},
                },
            ),
            422,
            "serialization.invalid",
        )
        weak = self._error(
            story.call(
                "POST",
                "/accounts",
                json={
                    "user_id": "BOkafor7",
                    "password": "password",
                    "first_name": "Ben",
                    "last_name": "Okafor",
                    "email": "ben@riverapeds.example",
                    "security_answers": {},
                },
            ),
            422,
            "password.rejected",
        )
        assert "password" not in json.dumps(weak["fields"]).replace('"password.', "")

    def test_another_persons_action_is_403(self, story: World) -> None:
        """Carla cannot approve her own company's request: only the provider side answers
        it (CO-4); Ana cannot sign in Carla's place, nor Carla in Ana's."""
        profile_id, org_id, _conn = _connected(story)
        ehr = story.ok(
            "POST",
            "/connections",
            status=201,
            as_user="CMendez3",
            json={"surrogate_id": org_id, "profile_id": profile_id, "systems": ["EHR"]},
        )
        body = self._error(
            story.call("POST", f"/connections/{ehr['id']}/approval", as_user="CMendez3", json={}),
            403,
            "access.not_associated",
        )
        assert body["message"]
        app = story.ok(
            "POST",
            "/applications",
            status=201,
            as_user="CMendez3",
            json={
                "profile_id": profile_id,
                "form": "855I",
                "kind": "initial",
                "content": _content(),
            },
        )
        _attach_license(story, app["id"])
        story.ok("POST", f"/applications/{app['id']}/send-for-signature", as_user="CMendez3")
        digest = story.ok("GET", f"/applications/{app['id']}", as_user="CMendez3")["revisions"][0][
            "digest"
        ]
        answer = story.call(
            "POST",
            f"/applications/{app['id']}/signatures",
            as_user="CMendez3",
            json={
                "slot": "individual",
                "digest": digest,
                "confirmed_email": EMAILS["CMendez3"],
                "attestations": ["accuracy", "electronic_signature"],
            },
        )
        assert answer.status_code == 403, answer.text

    def test_an_unknown_id_is_404(self, story: World) -> None:
        """Unknown applications and connections are enrollkit's not-found errors."""
        self._error(
            story.call("GET", "/applications/app-999999", as_user="ARivera1"),
            404,
            "application.not_found",
        )
        self._error(
            story.call("POST", "/connections/conn-999999/approval", as_user="ARivera1", json={}),
            404,
            "connection.not_found",
        )

    def test_no_token_or_an_unknown_or_expired_one_is_401(self, story: World) -> None:
        """A missing, unknown or expired bearer token is 401 with a Bearer challenge; a
        token ends 8 hours after its login, on the kit's clock."""
        answer = story.call("GET", "/agenda")
        self._error(answer, 401, "auth.token_required")
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        answer = story.client.get("/agenda", headers={"Authorization": "Bearer not-a-token"})
        self._error(answer, 401, "auth.token_unknown")
        assert story.call("GET", "/agenda", as_user="ARivera1").status_code == 200
        story.clock.advance(hours=8)
        self._error(story.call("GET", "/agenda", as_user="ARivera1"), 401, "auth.token_unknown")

    def test_a_taken_user_id_is_409(self, story: World) -> None:
        """Registering a user ID that is taken is a conflict (AC-1)."""
        self._error(
            story.call(
                "POST",
                "/accounts",
                json={
                    "user_id": "arivera1",
                    "password": "Bq#Harbor6",
                    "first_name": "Ann",
                    "last_name": "Rivers",
                    "email": "ann@example.org",
                    "security_answers": dict.fromkeys(
                        story.kit.identity.account_policy.question_catalogue[:3], "x"
                    ),
                },
            ),
            409,
            "user_id.taken",
        )

    def test_a_request_past_its_30_days_is_410(self, story: World) -> None:
        """Approving a request that was rejected automatically (CO-5) is 410 Gone."""
        profile_id, org_id, _conn = _connected(story)
        ehr = story.ok(
            "POST",
            "/connections",
            status=201,
            as_user="CMendez3",
            json={"surrogate_id": org_id, "profile_id": profile_id, "systems": ["EHR"]},
        )
        story.clock.advance(days=31)
        story.login("ARivera1")
        self._error(
            story.call("POST", f"/connections/{ehr['id']}/approval", as_user="ARivera1", json={}),
            410,
            "connection.expired",
        )

    def test_a_wrong_password_answers_denied_401_as_the_facade_does(self, story: World) -> None:
        """A refused login is the facade's Denied value, 401, the same for an unknown
        user ID (AC-3)."""
        wrong = story.call("POST", "/login", json={"user_id": "ARivera1", "password": "Xq#Wrong77"})
        unknown = story.call(
            "POST", "/login", json={"user_id": "Nobody12", "password": "Xq#Wrong77"}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()
        assert wrong.json()["code"] == "login.denied"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ValidationError("v", "m"), 422),
        (SerializationError("s", "m"), 422),
        (PasswordRejected(()), 422),
        (NotPermittedError("p", "m"), 403),
        (Unauthenticated("u", "m"), 401),
        (NotFoundError("n", "m"), 404),
        (ConflictError("c", "m"), 409),
        (InvalidTransitionError("t", "m"), 409),
        (ExpiredError("e", "m"), 410),
        (StorageError("s", "m"), 503),
        (EnrollkitError("x", "m"), 400),
    ],
)
def test_each_family_has_its_status(error: EnrollkitError, status: int) -> None:
    """The most specific family in an error's class hierarchy chooses the status."""
    assert status_for(error) == status


class TestRunningIt:
    def test_the_environment_must_name_a_secret_key(self, tmp_path: Path) -> None:
        """Without ENROLLKIT_SECRET_KEY the host refuses to start and says how to make one."""
        with pytest.raises(ValidationError) as refused:
            kit_from_environment({"ENROLLKIT_DB": str(tmp_path / "h.db")})
        assert refused.value.code == "host.secret_key_missing"
        with pytest.raises(ValidationError) as refused:
            kit_from_environment({"ENROLLKIT_SECRET_KEY": "not hex"})
        assert refused.value.code == "host.key_not_hex"

    def test_the_stand_ins_let_the_path_be_walked_by_hand(self, tmp_path: Path) -> None:
        """From the environment: SQLite, verified stand-ins, and the code delivered into
        the recipient's mail file (owner-only), not into any response."""
        environ = {
            "ENROLLKIT_SECRET_KEY": SECRET_KEY.hex(),
            "ENROLLKIT_DB": str(tmp_path / "host.db"),
            "ENROLLKIT_MAILDIR": str(tmp_path / "mail"),
        }
        with kit_from_environment(environ) as kit, TestClient(create_app(kit)) as client:
            questions = client.get("/security-questions").json()["questions"][:3]
            assert (
                client.post(
                    "/accounts",
                    json={
                        "user_id": "ARivera1",
                        "password": "Aq#Harbor6",
                        "first_name": "Ana",
                        "last_name": "Rivera",
                        "email": "ana@riverapeds.example",
                        "security_answers": dict.fromkeys(questions, "x"),
                    },
                ).status_code
                == 201
            )
            sent = client.post("/login", json={"user_id": "ARivera1", "password": "Aq#Harbor6"})
            assert sent.json()["outcome"] == "mfa_required"
            notifier = kit.runtime.notifier
            assert isinstance(notifier, MailDropNotifier)
            mailbox = notifier.mailbox("ana@riverapeds.example")
            assert mailbox.stat().st_mode & 0o077 == 0
            code = mailbox.read_text(encoding="utf-8").split("your code: ")[-1].strip()
            assert code not in sent.text
            done = client.post("/login/code", json={"user_id": "ARivera1", "code": code})
            token = done.json()["token"]
            claimed = client.post(
                "/profiles/claims",
                headers={"Authorization": f"Bearer {token}"},
                json={"npi": ANA_NPI, "legal_name": "Ana Rivera MD"},
            )
            assert claimed.status_code == 201
            assert claimed.json()["claim"]["state"] == "verified"

    def test_a_token_store_can_be_passed_in(self, world: World) -> None:
        """create_app takes the host's own token store (its lifetime, its clock)."""
        tokens = TokenStore(world.clock)
        app = create_app(world.kit, tokens=tokens)
        host = app.state.host
        assert isinstance(host, Host) and host.tokens is tokens
