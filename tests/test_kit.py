"""The Enrollkit facade: every service on one runtime, identity wired into the agenda."""

from __future__ import annotations

import pytest

from enrollkit import Enrollkit, FixedClock, InMemoryNotifier, SequentialIds
from enrollkit.adapters.memory import MemoryStorage
from enrollkit.errors import ValidationError
from enrollkit.hashing import FAST_INSECURE_PARAMETERS, Argon2Hasher
from enrollkit.identity import AccountContacts
from tests.conftest import SECRET_KEY
from tests.identity.conftest import register


@pytest.fixture
def kit(clock: FixedClock, notifier: InMemoryNotifier) -> Enrollkit:
    return Enrollkit(
        storage=MemoryStorage(),
        secret_key=SECRET_KEY,
        clock=clock,
        notifier=notifier,
        hasher=Argon2Hasher(FAST_INSECURE_PARAMETERS),
        ids=SequentialIds(),
    )


class TestEnrollkit:
    def test_services_share_one_runtime_and_one_document_store(self, kit: Enrollkit) -> None:
        """Enrollment and signatures see the same documents and NPPES directory."""
        assert kit.identity.runtime is kit.access.runtime is kit.enrollment.runtime
        assert kit.enrollment.documents is kit.signatures.documents is kit.documents
        assert kit.enrollment.nppes is kit.signatures.nppes is kit.nppes

    def test_pw_12_agenda_shows_the_password_expiry_of_a_registered_user(
        self, kit: Enrollkit, clock: FixedClock
    ) -> None:
        """The agenda lists the user's password expiry 60 days out, counting down (PW-12, EN-9)."""
        user = register(kit.identity)
        (item,) = kit.agenda(for_user=user.id)
        assert (item.kind, item.days_left, item.rule) == ("password.expiry", 60, "PW-12")
        clock.advance(days=45)
        (item,) = kit.agenda(for_user=user.id)
        assert item.days_left == 15

    def test_en_9_agenda_takes_exactly_one_scope(self, kit: Enrollkit) -> None:
        """Asking for both a user and a profile, or neither, is a clear error."""
        with pytest.raises(ValidationError) as info:
            kit.agenda()
        assert info.value.code == "agenda.scope"
        with pytest.raises(ValidationError):
            kit.agenda(for_user="a", for_profile="b")

    def test_contacts_come_from_identity_accounts(self, kit: Enrollkit) -> None:
        """E-mail addresses for notifications are read from the account, in the caller's
        transaction; an unknown account has none."""
        user = register(kit.identity, email="jane@clinic.example")
        contacts = AccountContacts()
        with kit.runtime.transaction() as tx:
            assert contacts.email_of(tx, user.id) == "jane@clinic.example"
            assert contacts.email_of(tx, "acct-unknown") is None

    def test_au_1_audit_of_the_facade_verifies(self, kit: Enrollkit) -> None:
        """Use cases through the facade leave a verifying audit chain."""
        register(kit.identity)
        result = kit.verify_audit()
        assert result.ok
        assert result.checked >= 1
