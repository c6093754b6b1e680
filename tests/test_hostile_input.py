"""ER-1 under a hostile host: every public method of every service, driven with garbage.

The methods are *discovered* (every public callable of the services the
facade wires, and the facade itself), so a method added later is covered
without editing this test. Each is called with arguments drawn from a mix of
valid values of the world below (real principals, ids that exist, enum
members) and garbage (None, lone surrogates, 2 MB strings, out-of-range
numbers and dates, wrong enums, enum *values*, hand-corrupted value objects,
forged principals, unhashable ids, hostile iterables). Anything but a result
or an :class:`~enrollkit.errors.EnrollkitError` fails, and so does a message
that echoes more than a short prefix of its input.
"""

from __future__ import annotations

import contextlib
import enum
import inspect
import math
import os
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrollkit import Enrollkit, EnrollkitError, FixedClock, InMemoryNotifier, SequentialIds
from enrollkit.access import (
    Employer,
    EmployerKind,
    InMemoryProofer,
    InMemoryVerifier,
    Role,
    System,
    VerificationStatus,
)
from enrollkit.adapters.memory import MemoryStorage
from enrollkit.enrollment import (
    ApplicationContent,
    Form,
    InMemoryNppesDirectory,
    Kind,
    NppesRecord,
    Official,
    OfficialRole,
    PracticeLocation,
    Practitioner,
)
from enrollkit.hashing import FAST_INSECURE_PARAMETERS, Argon2Hasher
from enrollkit.identity import FactorKind, NewFactor, Profile
from enrollkit.npi import NPI, NPIType
from enrollkit.principals import AuthMethod, HostKey, Principal, PrincipalKind
from enrollkit.signatures import Attestation
from enrollkit.testing.actors import Actors
from tests.conftest import SECRET_KEY, T0
from tests.enrollment.factories import MAIN_ST
from tests.enrollment.world import send

HUGE = "9" * 2_000_000
#: Calls per method (the CI profile draws more: ENROLLKIT_FUZZ_EXAMPLES overrides).
FUZZ_EXAMPLES = int(os.environ.get("ENROLLKIT_FUZZ_EXAMPLES", "60"))
PDF = b"%PDF-1.7\nsigned\n%%EOF\n"
NPI_ANA, NPI_CLINIC = "1234567893", "1245319599"

#: What the fuzz saw, for the terminal summary (tests/conftest.py prints it).
STATS: dict[str, int] = {"methods": 0, "calls": 0, "refused": 0, "answered": 0}
#: Per method: the codes it refused with (how deep the fuzz reached).
CODES: dict[str, set[str]] = {}


class HostileIterable:
    """An iterable whose iteration raises halfway (a hostile host's collection)."""

    def __iter__(self) -> Iterator[object]:
        yield System.PECOS
        raise RuntimeError("hostile iteration")


class HostileMapping(Mapping[str, str]):
    """A mapping whose items raise (a hostile host's mapping)."""

    def __getitem__(self, key: str) -> str:
        raise RuntimeError("hostile lookup")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("hostile keys")

    def __len__(self) -> int:
        return 1


def corrupt(instance: Any, **fields: object) -> Any:
    """A copy of an attrs value object with fields set around its validators, as a
    hostile host could build it."""
    copy = object.__new__(type(instance))
    for field in attrs.fields(type(instance)):
        object.__setattr__(copy, field.name, fields.get(field.name, getattr(instance, field.name)))
    return copy


@attrs.define
class World:
    """One installation with every kind of object, and the principals of its people."""

    kit: Enrollkit
    clock: FixedClock
    principals: dict[str, Principal]
    actors: Actors
    ids: list[str]
    #: Valid-looking text per parameter name (ids of the right kind, real passwords...).
    texts: dict[str, list[str]]


def build_world() -> World:
    clock = FixedClock(T0)
    nppes = InMemoryNppesDirectory()
    for value, name, kind in (
        (NPI_ANA, "Ana Diaz", NPIType.INDIVIDUAL),
        (NPI_CLINIC, "Clinic PLLC", NPIType.ORGANIZATION),
    ):
        nppes.put(NppesRecord(NPI(value), name, practice_addresses=(MAIN_ST,), npi_type=kind))
    kit = Enrollkit(
        storage=MemoryStorage(),
        secret_key=SECRET_KEY,
        clock=clock,
        notifier=InMemoryNotifier(),
        ids=SequentialIds(),
        hasher=Argon2Hasher(FAST_INSECURE_PARAMETERS),
        verifier=InMemoryVerifier(default=VerificationStatus.VERIFIED),
        proofer=InMemoryProofer(default=VerificationStatus.VERIFIED),
        nppes=nppes,
    )
    actors = Actors(kit.runtime)
    people = {name: actors(name) for name in ("ana", "carla", "cred", "olga")}
    principals = {
        **people,
        "help_desk": actors.help_desk(),
        "mac": actors.mac(),
    }
    questions = kit.identity.account_policy.question_catalogue[:3]
    jane = kit.identity.register(
        user_id="JSmith01",
        password="Blue#Sky42",
        profile=Profile("Jane", "Smith", "jane@example.org"),
        security_answers=dict.fromkeys(questions, "x"),
        factor=NewFactor(FactorKind.EMAIL, "jane@example.org"),
    )
    access = kit.access
    claim = access.claim_individual_profile(actor=people["ana"], npi=NPI_ANA, legal_name="Ana")
    assert claim.profile is not None
    clinic = access.register_organization(
        actor=people["olga"], legal_name="Clinic PLLC", npi=NPI_CLINIC
    )
    acme = access.register_organization(actor=people["carla"], legal_name="Acme LLC")
    staff = access.request_association(
        actor=people["cred"],
        employer=Employer.organization(acme.organization.id),
        role=Role.STAFF_END_USER,
    )
    access.approve_association(actor=people["carla"], association_id=staff.id)
    pending = access.request_connection(
        actor=people["carla"],
        surrogate_id=acme.organization.id,
        profile_id=claim.profile.id,
        systems=[System.PECOS],
    )
    connected = access.approve_connection(actor=people["ana"], connection_id=pending.id)
    invitation = access.invite(
        actor=people["olga"],
        employers=Employer.organization(clinic.organization.id),
        name="Sam Staff",
        email="sam@example.org",
        role=Role.STAFF_END_USER,
    )
    app = kit.enrollment.create(
        actor=people["cred"],
        profile_id=claim.profile.id,
        form=Form.CMS_855I,
        kind=Kind.INITIAL,
        content=CONTENT,
    )
    sent = send(kit, app.id, actor=people["cred"])
    assert clinic.profile is not None and sent.current_revision is not None
    ids = [
        jane.id,
        "JSmith01",
        "jane@example.org",
        claim.claim.id,
        claim.profile.id,
        clinic.profile.id,
        clinic.organization.id,
        acme.organization.id,
        clinic.association.id,
        staff.id,
        connected.id,
        invitation.id,
        app.id,
        "individual",
        sent.current_revision.digest,
        NPI_ANA,
        *people,
    ]
    texts = {
        "application_id": [app.id],
        "connection_id": [connected.id],
        "association_id": [staff.id, clinic.association.id, acme.association.id],
        "invitation_id": [invitation.id],
        "claim_id": [claim.claim.id],
        "profile_id": [claim.profile.id, clinic.profile.id],
        "organization_id": [clinic.organization.id, acme.organization.id],
        "surrogate_id": [acme.organization.id],
        "account_id": [jane.id, *people],
        "user_id": ["JSmith01", *people],
        "email": ["jane@example.org", "sam@example.org"],
        "new_email": ["jane.new@example.org"],
        "confirmed_email": ["ana@example.org"],
        "slot": ["individual"],
        "digest": [sent.current_revision.digest],
        "npi": [NPI_ANA, NPI_CLINIC],
        "ein": ["12-3456789"],
        "password": ["Blue#Sky42"],
        "current_password": ["Blue#Sky42"],
        "new_password": ["Red$Moon17"],
        "code": ["123456"],
        "pin": ["ABCDEFGHJK"],
        "factor_id": [jane.mfa_factors[0].id],
        "operator_id": ["hd-1"],
        "filename": ["license.pdf"],
        "signer_id": ["ana"],
        "owner_id": ["ana"],
    }
    return World(kit, clock, principals, actors, ids, texts)


def _refresh(world: World) -> None:
    """Principals authenticated now again (after the clock moved), as a host re-logs in."""
    for name in ("ana", "carla", "cred", "olga"):
        world.principals[name] = world.actors(name)
    world.principals["help_desk"] = world.actors.help_desk()
    world.principals["mac"] = world.actors.mac()


CONTENT = ApplicationContent(
    npi=NPI(NPI_ANA),
    practitioner=Practitioner("Ana", "Diaz", email="ana@example.org"),
    practice_locations=(PracticeLocation("Main office", MAIN_ST),),
    officials=(Official("Olga", OfficialRole.AUTHORIZED_OFFICIAL, "olga@example.org", "olga"),),
)
_FORGED = Principal(PrincipalKind.ACCOUNT, "ana", T0, AuthMethod.LOGIN, "0" * 64)
_FOREIGN = HostKey(b"another-installation-key-32bytes").issue(
    PrincipalKind.ACCOUNT, "ana", T0, AuthMethod.LOGIN
)

#: Garbage for any parameter.
GARBAGE: tuple[object, ...] = (
    None,
    "",
    " ",
    "\ud800",
    "a\x00b",
    HUGE,
    -1,
    2**63,
    10**100,
    math.nan,
    3.5,
    True,
    b"bytes",
    bytearray(b"x"),
    [],
    ["x"],
    {},
    {"a": 1},
    set(),
    (1, 2),
    object(),
    datetime(2026, 1, 1),  # naive
    datetime(9999, 12, 31, tzinfo=UTC),
    date(9999, 12, 31),
    date(1, 1, 1),
    timedelta(days=10**6),
    "9999-12-31",
    Role.SURROGATE,
    "AO",
    "PECOS",
    System.EHR,
    _FORGED,
    _FOREIGN,
    HostileIterable(),
    HostileMapping(),
    corrupt(Employer.organization("x"), kind="organization"),
    corrupt(Profile("A", "B", "a@b.org"), email=None),
    corrupt(NewFactor(FactorKind.EMAIL, "a@b.org"), kind="email"),
    corrupt(CONTENT, npi="123", practice_locations=[None]),
    Employer.individual_provider("prof-404"),
)


def _pool(tp: Any, world: World, name: str = "") -> list[Any]:
    """Valid-looking values for a parameter (what a real host would pass)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _pool(typing.get_args(tp)[0], world, name)
    if origin in (typing.Union, types.UnionType):
        return [v for arg in typing.get_args(tp) for v in _pool(arg, world, name)]
    if tp is type(None):
        return [None]
    if tp is Principal:
        return list(world.principals.values())
    if tp is str:
        return world.texts.get(name) or ["Acme Clinic LLC", "a reason", *world.ids[:3]]
    if tp is int:
        return [0, 1, 30, 120]
    if tp is bool:
        return [True, False]
    if tp is bytes:
        return [PDF, b"plain text"]
    if tp is date:
        return [date(2026, 3, 1)]
    if tp is datetime:
        return [T0]
    if tp is NPI:
        return [NPI(NPI_ANA)]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        members: list[Any] = list(tp)
        return [*members, *(m.value for m in members)]
    if tp is Employer:
        return [Employer.organization(i) for i in world.ids[:8]] + [
            Employer(EmployerKind.INDIVIDUAL_PROVIDER, world.ids[4])
        ]
    if tp is Profile:
        return [Profile("Jane", "Smith", "jane2@example.org")]
    if tp is NewFactor:
        return [NewFactor(FactorKind.SMS, "+1 410 555 0100"), NewFactor(FactorKind.EMAIL, "x")]
    if tp is ApplicationContent:
        return [CONTENT, ApplicationContent()]
    if origin in (Iterable, Sequence, tuple, list, frozenset, set):
        args = typing.get_args(tp)
        if args and args[0] is System:
            return [[System.PECOS], {System.NPPES, System.PECOS}, ("PECOS",), [System.EHR]]
        if args and args[0] is Attestation:
            return [set(Attestation), [Attestation.ACCURACY]]
        if args and typing.get_origin(args[0]) is tuple:
            return [[("a.pdf", PDF)], []]
        return [[], [world.ids[0]]]
    if origin in (Mapping, dict):
        return [{"What is the name of your first pet?": "Rex"}, {}]
    return []


def _methods() -> list[tuple[str, str]]:
    """(service, method) for every public method of every service, discovered."""
    found = []
    for service_name in (
        "identity",
        "access",
        "enrollment",
        "signatures",
        "records",
        "kit",
        "agenda",
    ):
        owner = _service_type(service_name)
        for name, _member in inspect.getmembers(owner, callable):
            if name.startswith("_") or isinstance(inspect.getattr_static(owner, name), type):
                continue
            found.append((service_name, name))
    return found


def _service_type(name: str) -> type:
    from enrollkit.access import AccessService
    from enrollkit.enrollment import Agenda, EnrollmentService, RecordService
    from enrollkit.identity import IdentityService
    from enrollkit.signatures import SignatureService

    return {
        "identity": IdentityService,
        "access": AccessService,
        "enrollment": EnrollmentService,
        "signatures": SignatureService,
        "records": RecordService,
        "kit": Enrollkit,
        "agenda": Agenda,
    }[name]


def _bound(world: World, service: str, method: str) -> Callable[..., Any]:
    target: Any = (
        world.kit
        if service == "kit"
        else (world.kit._agenda if service == "agenda" else getattr(world.kit, service))
    )
    return getattr(target, method)  # type: ignore[no-any-return]


METHODS = _methods()


def test_er_1_the_fuzz_discovers_every_service_method() -> None:
    """The discovery finds the services' methods, each checked at the boundary."""
    names = {f"{s}.{m}" for s, m in METHODS}
    for expected in (
        "access.claim_individual_profile",
        "access.decide",
        "enrollment.create",
        "signatures.sign_electronically",
        "identity.login",
        "records.import_revalidation_list",
        "kit.agenda",
    ):
        assert expected in names
    undecorated = [
        f"{s}.{m}"
        for s, m in METHODS
        if not getattr(getattr(_service_type(s), m), "__enrollkit_boundary__", False)
    ]
    assert undecorated == []


@pytest.mark.parametrize(("service", "method"), METHODS, ids=[f"{s}.{m}" for s, m in METHODS])
def test_er_1_garbage_in_never_escapes_as_a_builtin(service: str, method: str) -> None:
    """Any mix of valid and garbage arguments answers, or raises an EnrollkitError whose
    message is short; never a bare builtin exception (ER-1)."""
    world = build_world()
    function = _bound(world, service, method)
    signature = inspect.signature(function)
    hints = typing.get_type_hints(function, include_extras=True)
    STATS["methods"] += 1

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def call(data: st.DataObject) -> None:
        if data.draw(st.integers(0, 4), label="move the clock") == 0:
            world.clock.advance(minutes=data.draw(st.integers(1, 60 * 24 * 3), label="minutes"))
            with contextlib.suppress(EnrollkitError):  # an account the fuzz locked or disabled
                _refresh(world)
        args: list[object] = []
        kwargs: dict[str, object] = {}
        parameters = list(signature.parameters.values())
        # Modes: every argument valid-looking; exactly one garbage (reaching deep with one
        # bad value); or each argument garbage three times in ten.
        mode = data.draw(st.sampled_from(["valid", "one", "mixed"]), label="mode")
        culprit = data.draw(st.integers(0, max(len(parameters) - 1, 0)), label="culprit")
        for position, parameter in enumerate(parameters):
            valid = _pool(hints.get(parameter.name, object), world, parameter.name)
            has_default = parameter.default is not parameter.empty
            choice = data.draw(st.integers(0, 9), label=f"how {parameter.name}")
            if has_default and choice == 0 and position != culprit:
                continue  # left out
            garbage = (
                not valid
                or (mode == "one" and position == culprit)
                or (mode == "mixed" and choice >= 7)
            )
            if garbage:
                value = data.draw(st.sampled_from(GARBAGE), label=parameter.name)
            else:
                value = data.draw(st.sampled_from(valid), label=parameter.name)
            if parameter.kind is parameter.POSITIONAL_OR_KEYWORD and not kwargs and choice == 9:
                args.append(value)
            else:
                kwargs[parameter.name] = value
        if data.draw(st.integers(0, 19), label="extra") == 0:
            kwargs["no_such_parameter"] = "x"
        STATS["calls"] += 1
        try:
            function(*args, **kwargs)
        except EnrollkitError as exc:
            STATS["refused"] += 1
            CODES.setdefault(f"{service}.{method}", set()).add(exc.code)
            assert len(exc.message) < 2_000, (method, exc.code, len(exc.message))
            assert HUGE[:200] not in exc.message and HUGE[:200] not in repr(exc.fields)
            return
        STATS["answered"] += 1

    call()
