"""Run the example host locally: ``python -m examples.fastapi_host [--host H] [--port P]``.

Configuration comes from the environment (never from the command line, where shell
history and process lists would keep a key):

``ENROLLKIT_SECRET_KEY``
    the host's secret key in hex, 64 hex digits (32 bytes) or more; required. It seals
    principals and keys the AC-3 decoys: keep it stable across restarts.
``ENROLLKIT_AUDIT_KEY``
    optional: the audit chain's HMAC key in hex (AU-1).
``ENROLLKIT_DB``
    the SQLite file (default ``enrollkit-host.db``).
``ENROLLKIT_MAILDIR``
    where the stand-in mailer delivers (default ``mail``): one file per recipient.

The ports a real host fills with its own services are **stand-ins** here, so the
whole path can be walked by hand: the mailer writes each message (with its code or
PIN) into the recipient's file, which only the user running the host can read; the
help desk verifies every AO and identity proofing confirms every claim
(:data:`STAND_IN_NOTE`); NPPES knows the demo's two NPIs. Replace all four before
this is anything but an example.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from enrollkit import NPI, Enrollkit, EnrollkitError, Notification, NPIType, ValidationError
from enrollkit.access import InMemoryProofer, InMemoryVerifier, VerificationStatus
from enrollkit.adapters.sqlite import SQLiteStorage
from enrollkit.enrollment import Address, InMemoryNppesDirectory, NppesRecord

__all__ = [
    "DEMO_NPPES",
    "STAND_IN_NOTE",
    "MailDropNotifier",
    "demo_nppes",
    "kit_from_environment",
    "main",
]

STAND_IN_NOTE: Final = (
    "example stand-ins: every AO is verified and every profile claim proven; "
    "mail is delivered to files; NPPES knows two demo NPIs"
)

_OFFICE = Address("480 Harbor Boulevard", "Annapolis", "MD", "21401", line2="Suite 210")
#: What the stand-in NPPES knows: the demo's provider (Type 1) and her PLLC (Type 2).
DEMO_NPPES: Final = (
    NppesRecord(
        NPI("1234567893"),
        "Ana Rivera MD",
        practice_addresses=(_OFFICE,),
        npi_type=NPIType.INDIVIDUAL,
    ),
    NppesRecord(
        NPI("1245319599"),
        "Rivera Pediatrics PLLC",
        practice_addresses=(_OFFICE,),
        npi_type=NPIType.ORGANIZATION,
    ),
)

_UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9@._+-]")


class MailDropNotifier:
    """A stand-in mailer: appends each notification to ``<directory>/<recipient>.txt``.

    The secret a notification carries (a login code, an invitation PIN) is delivered
    to the recipient's file, as a mailer would deliver it to their inbox; the files
    are readable by their owner only. Nothing is printed or logged.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"MailDropNotifier({str(self.directory)!r})"

    def mailbox(self, recipient: str) -> Path:
        """The file *recipient*'s messages go to."""
        return self.directory / f"{_UNSAFE_IN_FILE_NAMES.sub('_', recipient)[:200]}.txt"

    def send(self, notification: Notification) -> None:
        """Append *notification* to its recipient's file."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fields = ", ".join(f"{k}={v}" for k, v in sorted(notification.fields.items()))
        lines = [f"[{notification.template}] {fields}"]
        if notification.secret is not None:
            lines.append(f"    your code: {notification.secret}")
        descriptor = os.open(
            self.mailbox(notification.recipient), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )
        with os.fdopen(descriptor, "a", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")


def demo_nppes() -> InMemoryNppesDirectory:
    """A stand-in NPPES directory holding :data:`DEMO_NPPES`."""
    directory = InMemoryNppesDirectory()
    for record in DEMO_NPPES:
        directory.put(record)
    return directory


def _hex_key(environ: Mapping[str, str], name: str, *, required: bool) -> bytes | None:
    text = environ.get(name, "").strip()
    if not text:
        if not required:
            return None
        raise ValidationError(
            "host.secret_key_missing",
            f"Set {name} to the host's secret key in hex, for example "
            f"`export {name}=$(python3 -c 'import secrets; print(secrets.token_hex(32))')`, "
            "and keep it: it must stay the same across restarts.",
        )
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValidationError(
            "host.key_not_hex",
            f"{name} must hold hex digits (64 or more for 32 bytes).",
            variable=name,
        ) from None
    return key


def kit_from_environment(environ: Mapping[str, str]) -> Enrollkit:
    """The example's facade: SQLite, the system clock, the stand-ins, keys from *environ*."""
    secret_key = _hex_key(environ, "ENROLLKIT_SECRET_KEY", required=True)
    assert secret_key is not None
    audit_key = _hex_key(environ, "ENROLLKIT_AUDIT_KEY", required=False)
    return Enrollkit(
        storage=SQLiteStorage(
            environ.get("ENROLLKIT_DB", "enrollkit-host.db"), audit_key=audit_key
        ),
        secret_key=secret_key,
        notifier=MailDropNotifier(environ.get("ENROLLKIT_MAILDIR", "mail")),
        verifier=InMemoryVerifier(default=VerificationStatus.VERIFIED),
        proofer=InMemoryProofer(default=VerificationStatus.VERIFIED),
        nppes=demo_nppes(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the example host with uvicorn until interrupted; 2 on a configuration error."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.fastapi_host",
        description=f"The enrollkit example host ({STAND_IN_NOTE}).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="the port to listen on")
    args = parser.parse_args(argv)
    try:
        kit = kit_from_environment(os.environ)
    except EnrollkitError as err:
        print(f"error [{err.code}]: {err.message}", file=sys.stderr)
        return 2
    import uvicorn

    from examples.fastapi_host.app import create_app

    with kit:
        uvicorn.run(create_app(kit), host=args.host, port=args.port)
    return 0
