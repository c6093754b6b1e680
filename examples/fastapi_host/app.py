"""A small FastAPI host over the :class:`enrollkit.Enrollkit` facade.

:func:`create_app` builds the app from a kit the caller made (storage, secret key,
clock, notifier, verification ports, NPPES), so a test passes a ``FixedClock``, an
``InMemoryNotifier`` and a temporary SQLite file, and production its own. The app:

* turns every :class:`~enrollkit.EnrollkitError` into one JSON shape,
  ``error.to_dict()`` (``code``, ``message``, ``fields``), with the HTTP status of
  its family, in one exception handler (:func:`status_for`); a body FastAPI cannot
  read becomes enrollkit's :class:`~enrollkit.ValidationError` ``request.invalid``;
* keeps the principals of completed logins server-side (:class:`TokenStore`) and
  gives the client a random bearer token, never the principal or its seal (AC-8);
* answers what the facade answers, converted by ``enrollkit.to_data`` (the one
  converter), except for accounts (their hashes stay on the server) and
  principals (a token instead).

The one-time code of a login travels only through the notifier (the host's
mailer), never in a response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, assert_never

import attrs
from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from enrollkit import (
    Enrollkit,
    EnrollkitError,
    Principal,
    ValidationError,
    from_data,
    to_data,
)
from enrollkit.access import Action, System
from enrollkit.enrollment import (
    DEFAULT_HORIZON_DAYS,
    Application,
    ApplicationContent,
    DocumentKind,
    require_application_access,
)
from enrollkit.errors import clip, http_status
from enrollkit.identity import (
    Account,
    Authenticated,
    Denied,
    FactorKind,
    LoginOutcome,
    MfaRequired,
    MustChangePassword,
    NewFactor,
    Profile,
)
from examples.fastapi_host.models import (
    ApplicationIn,
    ApprovalIn,
    ApproveSelectedIn,
    ClaimIn,
    CodeIn,
    ConnectionIn,
    LoginIn,
    OrganizationIn,
    PasswordChangeIn,
    RegistrationIn,
    SignatureIn,
)
from examples.fastapi_host.tokens import IssuedToken, TokenStore, Unauthenticated

__all__ = ["STATUS_BY_FAMILY", "Host", "TokenStore", "create_app", "status_for"]

#: The HTTP status of each error family. The most specific family in the error's
#: class hierarchy wins (an ``Unauthenticated`` is a ``NotPermittedError``: 401, not
#: 403; a ``PasswordRejected`` or ``SerializationError`` is a ``ValidationError``).
STATUS_BY_FAMILY: Final[Mapping[type, int]] = {Unauthenticated: 401}


def status_for(error: EnrollkitError) -> int:
    """The HTTP status of *error*: 401 for the example's own ``Unauthenticated``, else
    enrollkit's mapping of families (:func:`enrollkit.errors.http_status`: the most
    specific family wins, 400 for any other).

    >>> from enrollkit import SerializationError
    >>> status_for(SerializationError("serialization.invalid", "Cannot read it."))
    422
    >>> status_for(Unauthenticated("auth.token_required", "Log in first."))
    401
    >>> status_for(EnrollkitError("demo.broken", "Off script."))
    400
    """
    for family in type(error).__mro__:
        status = STATUS_BY_FAMILY.get(family)
        if status is not None:
            return status
    return http_status(error)


@attrs.frozen
class Host:
    """What every request of one app works with: the facade and the token store."""

    kit: Enrollkit
    tokens: TokenStore


def create_app(kit: Enrollkit, *, tokens: TokenStore | None = None) -> FastAPI:
    """The FastAPI app over *kit*. *tokens* defaults to a store on the kit's clock.

    The caller owns *kit* and closes it (``with kit: ...``) when the app stops.
    """
    app = FastAPI(
        title="enrollkit example host",
        summary="CMS I&A and PECOS rules over HTTP: a runnable example, not a product.",
    )
    app.state.host = Host(kit, tokens if tokens is not None else TokenStore(kit.runtime.clock))
    app.add_exception_handler(EnrollkitError, on_error)
    app.add_exception_handler(RequestValidationError, on_error)
    app.include_router(router)
    return app


async def on_error(request: Request, exc: Exception) -> Response:
    """The one exception handler: an EnrollkitError (or a body FastAPI could not read,
    as enrollkit's ``request.invalid``) as ``error.to_dict()`` with its family's status."""
    if isinstance(exc, RequestValidationError):
        exc = ValidationError(
            "request.invalid",
            "The request does not have the expected shape; fields.errors names each "
            "problem by its location.",
            # The location and the problem only: never the input (it may be a password);
            # a key in the location is cut to a short prefix, as enrollkit's echoes are.
            errors=[
                {
                    "loc": [part if isinstance(part, int) else clip(part) for part in e["loc"]],
                    "type": e["type"],
                    "msg": e["msg"],
                }
                for e in exc.errors()
            ],
        )
    if not isinstance(exc, EnrollkitError):  # registered for these two types only
        raise exc
    status = status_for(exc)
    return JSONResponse(
        jsonable_encoder(exc.to_dict()),
        status_code=status,
        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None,
    )


# -- dependencies: the host, the caller's principal --------------------------------------

_BEARER = HTTPBearer(
    auto_error=False, description="The token POST /login/code answered after a completed login."
)


def _host(request: Request) -> Host:
    host = request.app.state.host
    if not isinstance(host, Host):
        raise TypeError("the app was not built by create_app")  # a wiring bug
    return host


def _token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> str:
    if credentials is None:
        raise Unauthenticated(
            "auth.token_required",
            "Log in first (POST /login, then POST /login/code with the code you received) "
            "and send the token as 'Authorization: Bearer <token>'.",
        )
    return credentials.credentials


HostDep = Annotated[Host, Depends(_host)]
TokenDep = Annotated[str, Depends(_token)]


def _principal(host: HostDep, token: TokenDep) -> Principal:
    return host.tokens.principal(token)


#: The principal of the caller's login (AC-8), found by their bearer token.
Me = Annotated[Principal, Depends(_principal)]


def _account_id(host: Host, principal: Principal) -> str:
    """The caller's account id, once enrollkit has checked the account now (AC-8): for
    reads that take an account id rather than a principal (decisions, the agenda)."""
    with host.kit.runtime.transaction() as tx:
        return tx.act(principal).id


# -- responses ----------------------------------------------------------------------------


def _json(data: object, *, status: int = 200) -> JSONResponse:
    """*data* (enrollkit values, or plain data holding them) through the one converter."""
    return JSONResponse(to_data(data), status_code=status)


def _account(account: Account) -> dict[str, Any]:
    """An account as the host shows it: never its hashes, questions or challenges."""
    return {
        "id": account.id,
        "user_id": account.user_id,
        "profile": to_data(account.profile),
        "created_at": to_data(account.created_at),
        "status": account.status.value,
    }


def _principal_view(principal: Principal) -> dict[str, Any]:
    """Who a principal stands for, without its seal."""
    return {
        "kind": principal.kind.value,
        "id": principal.id,
        "authenticated_at": to_data(principal.authenticated_at),
        "method": principal.method.value,
    }


def _token_view(issued: IssuedToken) -> dict[str, Any]:
    return {
        "token": issued.token,
        "token_type": "bearer",
        "token_expires_at": to_data(issued.expires_at),
    }


def _login_answer(host: Host, outcome: LoginOutcome) -> JSONResponse:
    """What the facade answered; a principal becomes a bearer token kept server-side."""
    data: dict[str, Any] = to_data(outcome)
    match outcome:
        case MfaRequired():
            return _json({"outcome": "mfa_required", **data})
        case Denied():
            return JSONResponse({"outcome": "denied", **data}, status_code=401)
        case Authenticated() | MustChangePassword():
            del data["principal"]  # it stays on the server, behind the token
            name = "authenticated" if isinstance(outcome, Authenticated) else "must_change_password"
            issued = host.tokens.issue(outcome.principal)
            return _json({"outcome": name, **data, **_token_view(issued)})
        case _:
            assert_never(outcome)


# -- identity: accounts and logins (AC-1, AC-5, AC-8, PW-12) ---------------------------------

router = APIRouter()


@router.get("/security-questions", tags=["identity"])
def security_questions(host: HostDep) -> JSONResponse:
    """The questions a registration answers (AC-4)."""
    policy = host.kit.identity.account_policy
    return _json({"count": policy.security_questions, "questions": list(policy.question_catalogue)})


@router.post("/accounts", tags=["identity"])
def register(body: RegistrationIn, host: HostDep) -> JSONResponse:
    """Open an account; its first factor is an e-mail factor at the profile's address."""
    account = host.kit.identity.register(
        user_id=body.user_id,
        password=body.password.get_secret_value(),
        profile=Profile(body.first_name, body.last_name, body.email),
        security_answers={q: a.get_secret_value() for q, a in body.security_answers.items()},
        factor=NewFactor(FactorKind.EMAIL, body.email),
    )
    return _json(_account(account), status=201)


@router.post("/login", tags=["identity"])
def login(body: LoginIn, host: HostDep) -> JSONResponse:
    """First step: the password. A code goes to the account's factor (AC-5)."""
    return _login_answer(
        host, host.kit.identity.login(body.user_id, body.password.get_secret_value())
    )


@router.post("/login/code", tags=["identity"])
def login_code(body: CodeIn, host: HostDep) -> JSONResponse:
    """Second step: the code the person received. Answers a bearer token."""
    outcome = host.kit.identity.verify_code(body.user_id, body.code.get_secret_value())
    return _login_answer(host, outcome)


@router.post("/logout", tags=["identity"], status_code=204)
def logout(host: HostDep, token: TokenDep) -> Response:
    """Forget this token's principal."""
    host.tokens.revoke(token)
    return Response(status_code=204)


@router.get("/me", tags=["identity"])
def me(host: HostDep, principal: Me) -> JSONResponse:
    """Who the token stands for (the principal, without its seal) and their account."""
    account = host.kit.identity.get(_account_id(host, principal))
    return _json({"principal": _principal_view(principal), "account": _account(account)})


@router.put("/me/password", tags=["identity"])
def change_password(
    body: PasswordChangeIn, host: HostDep, principal: Me, token: TokenDep
) -> JSONResponse:
    """Change the password (PW-1..PW-12). Other logins end; this one gets a new token."""
    changed = host.kit.identity.change_password(
        actor=principal,
        current_password=body.current_password.get_secret_value(),
        new_password=body.new_password.get_secret_value(),
    )
    host.tokens.revoke(token)
    issued = host.tokens.issue(changed.principal)
    return _json(
        {"account_id": changed.account_id, "expires_at": changed.expires_at, **_token_view(issued)}
    )


# -- access: profiles, organizations, connections, decisions (RO, CO) -------------------------


@router.post("/profiles/claims", tags=["access"])
def claim_profile(body: ClaimIn, host: HostDep, principal: Me) -> JSONResponse:
    """Claim an individual profile; identity proofing decides (RO-9)."""
    outcome = host.kit.access.claim_individual_profile(
        actor=principal, npi=body.npi, legal_name=body.legal_name
    )
    return _json(outcome, status=201)


@router.post("/organizations", tags=["access"])
def register_organization(body: OrganizationIn, host: HostDep, principal: Me) -> JSONResponse:
    """Register an organization and ask for its AO role (RO-3, NPI-4)."""
    registration = host.kit.access.register_organization(
        actor=principal, legal_name=body.legal_name, npi=body.npi, ein=body.ein
    )
    return _json(registration, status=201)


@router.post("/associations/{association_id}/verification", tags=["access"])
def verify_authorized_official(association_id: str, host: HostDep, principal: Me) -> JSONResponse:
    """Ask the AO verifier again about a pending AO association (RO-3)."""
    return _json(
        host.kit.access.verify_authorized_official(actor=principal, association_id=association_id)
    )


@router.post("/connections", tags=["access"])
def request_connection(body: ConnectionIn, host: HostDep, principal: Me) -> JSONResponse:
    """A surrogate asks to act for a provider profile (CO-3)."""
    connection = host.kit.access.request_connection(
        actor=principal,
        surrogate_id=body.surrogate_id,
        profile_id=body.profile_id,
        systems=body.systems,
    )
    return _json(connection, status=201)


@router.get("/connections/pending", tags=["access"])
def pending_connections(host: HostDep, principal: Me) -> JSONResponse:
    """My Pending Connections: what the caller may answer, soonest deadline first (CO-9)."""
    return _json(host.kit.access.pending_for(actor=principal))


@router.post("/connections/approve-selected", tags=["access"])
def approve_selected(body: ApproveSelectedIn, host: HostDep, principal: Me) -> JSONResponse:
    """Approve All Selected: every chosen request or none (CO-9)."""
    return _json(host.kit.access.approve_selected(actor=principal, selections=body.selections))


@router.post("/connections/{connection_id}/approval", tags=["access"])
def approve_connection(
    connection_id: str, body: ApprovalIn, host: HostDep, principal: Me
) -> JSONResponse:
    """Approve one pending request, for all its systems or some (CO-4)."""
    connection = host.kit.access.approve_connection(
        actor=principal, connection_id=connection_id, systems=body.systems
    )
    return _json(connection)


@router.get("/decisions", tags=["access"])
def explain_decision(
    action: Action,
    profile_id: str,
    host: HostDep,
    principal: Me,
    system: System = System.PECOS,
) -> JSONResponse:
    """May the caller do *action* for *profile_id* in *system*, and why (CO-7, CO-8)."""
    decision = host.kit.access.decide(
        user_id=_account_id(host, principal), action=action, profile_id=profile_id, system=system
    )
    return _json({"explanation": decision.explain(), **to_data(decision)})


# -- enrollment and signatures (EN, SG) ----------------------------------------------------


@router.post("/applications", tags=["enrollment"])
def create_application(body: ApplicationIn, host: HostDep, principal: Me) -> JSONResponse:
    """Start a draft; *content* is read by enrollkit's converter (ST-4)."""
    content = from_data(body.content, ApplicationContent) if body.content is not None else None
    application = host.kit.enrollment.create(
        actor=principal, profile_id=body.profile_id, form=body.form, kind=body.kind, content=content
    )
    return _json(application, status=201)


def _readable(host: Host, principal: Principal, application_id: str) -> Application:
    """The application, for someone who may work on it (EN-2) or is asked to sign it (SG-9).

    ``enrollment.get`` and ``signatures.sheet`` are host reads without an access check;
    this is the host's policy for showing them to a user."""
    me = _account_id(host, principal)
    application = host.kit.enrollment.get(application_id)
    sheet = host.kit.signatures.sheet(application_id)
    if any(me in request.candidates for request in sheet.requests):
        return application
    with host.kit.runtime.transaction() as tx:
        require_application_access(tx, user_id=me, application=application)
    return application


@router.get("/applications/{application_id}", tags=["enrollment"])
def get_application(application_id: str, host: HostDep, principal: Me) -> JSONResponse:
    """The application with its revisions and their digests (what a signer names)."""
    return _json(_readable(host, principal, application_id))


@router.get("/applications/{application_id}/signatures", tags=["signatures"])
def signature_sheet(application_id: str, host: HostDep, principal: Me) -> JSONResponse:
    """Who is asked to sign which revision, and who signed (SG-1, SG-2)."""
    _readable(host, principal, application_id)
    return _json(host.kit.signatures.sheet(application_id))


@router.post("/applications/{application_id}/documents", tags=["enrollment"])
def attach_document(
    application_id: str,
    filename: str,
    host: HostDep,
    principal: Me,
    data: Annotated[bytes, Body(media_type="application/pdf")],
    kind: DocumentKind | None = None,
) -> JSONResponse:
    """Attach a PDF or TIFF, the raw bytes as the body (EN-5), saying what it is (*kind*:
    the checklist and the fee count documents by kind, EN-13, EN-15)."""
    ref = host.kit.enrollment.attach_document(
        application_id, actor=principal, filename=filename, data=data, kind=kind
    )
    return _json(ref, status=201)


@router.get("/applications/{application_id}/requirements", tags=["enrollment"])
def requirements(application_id: str, host: HostDep, principal: Me) -> JSONResponse:
    """The documents (EN-13) and fee (EN-15) the application needs, and what it lacks."""
    return _json(host.kit.enrollment.requirements_of(application_id, actor=principal))


@router.post("/applications/{application_id}/send-for-signature", tags=["signatures"])
def send_for_signature(application_id: str, host: HostDep, principal: Me) -> JSONResponse:
    """Freeze a revision and ask its signers (EN-3, SG-1, SG-2)."""
    return _json(host.kit.signatures.send_for_signature(application_id, actor=principal))


@router.post("/applications/{application_id}/signatures", tags=["signatures"])
def sign_electronically(
    application_id: str, body: SignatureIn, host: HostDep, principal: Me
) -> JSONResponse:
    """Sign the reviewed revision, named by its digest (SG-3, SG-9); the last signature
    submits the application (SG-6)."""
    application = host.kit.signatures.sign_electronically(
        application_id,
        actor=principal,
        slot=body.slot,
        digest=body.digest,
        confirmed_email=body.confirmed_email,
        attestations=body.attestations,
    )
    return _json(application)


@router.get("/agenda", tags=["enrollment"])
def agenda(host: HostDep, principal: Me, horizon_days: int = DEFAULT_HORIZON_DAYS) -> JSONResponse:
    """Everything due for the caller, soonest first, with days left (EN-9)."""
    items = host.kit.agenda(for_user=_account_id(host, principal), horizon_days=horizon_days)
    return _json(items)
