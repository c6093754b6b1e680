"""ST-2 protects the signature round: two signers racing for one slot cannot both sign."""

from __future__ import annotations

import threading

import attrs

from enrollkit.enrollment import ApplicationStatus, Form, Kind
from enrollkit.errors import ConflictError, EnrollkitError
from enrollkit.runtime import Runtime, Transaction
from enrollkit.signatures import Attestation, SignatureService
from tests.enrollment.world import Kit, acme_855b


class RendezvousContacts:
    """Answers e-mail lookups; once armed, holds each caller until both signers arrived,
    so both transactions have loaded the application before either saves (once: the
    loser's retry passes straight through)."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2, timeout=10)
        self.armed = False

    def email_of(self, tx: Transaction, user_id: str) -> str | None:
        if self.armed:
            self.barrier.wait()
            self.armed = False
        return f"{user_id}@acme.org"


def test_sg_6_racing_signers_of_one_slot_sign_once(runtime: Runtime) -> None:
    """The AO and the AM sign the same slot at the same moment: one wins; the other's commit
    is stale (ST-2 on application and sheet), runs again on what is now stored and gets the
    domain's answer (the application is submitted), never a storage conflict; exactly one
    signature is stored."""
    kit = Kit(runtime)
    contacts = RendezvousContacts()
    signatures = SignatureService(runtime, nppes=kit.nppes, contacts=contacts)
    officials = tuple(attrs.evolve(o, email=None) for o in acme_855b().officials)
    app = kit.enrollment.create(
        actor=kit.actor("u-ao"),
        profile_id="prof-acme",
        form=Form.CMS_855B,
        kind=Kind.CHANGE_OF_INFORMATION,
        content=acme_855b(officials=officials),
    )
    signatures.send_for_signature(app.id, actor=kit.actor("u-ao"))
    principals = {user: kit.actor(user) for user in ("u-ao", "u-do")}
    digest = kit.digest(app.id)
    contacts.armed = True
    outcomes: dict[str, object] = {}

    def sign(user: str) -> None:
        try:
            outcomes[user] = signatures.sign_electronically(
                app.id,
                actor=principals[user],
                digest=digest,
                slot="authorized_or_delegated_official",
                confirmed_email=f"{user}@acme.org",
                attestations=set(Attestation),
            ).status
        except EnrollkitError as exc:
            outcomes[user] = exc

    threads = [threading.Thread(target=sign, args=(user,)) for user in ("u-ao", "u-do")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    statuses = [o for o in outcomes.values() if o is ApplicationStatus.SUBMITTED]
    refusals = [o for o in outcomes.values() if isinstance(o, EnrollkitError)]
    assert (len(statuses), len(refusals)) == (1, 1), outcomes
    assert not isinstance(refusals[0], ConflictError)
    assert refusals[0].code == "signature.not_pending"
    assert len(signatures.sheet(app.id).signatures) == 1
    assert kit.runtime.storage.audit.verify().ok
    assert kit.events(app.id).count("signature.signed") == 1
