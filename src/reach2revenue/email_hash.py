"""Keyed email hashes: HMAC-SHA256 with a secret, so a dictionary cannot reverse them.

``email_hash = hex(HMAC-SHA256(key, lower(strip(email))))``. A plain sha256 of an email is
reversed by hashing a list of known addresses; a keyed hash is not, as long as the key
stays secret. The same key must be used for every build, or yesterday's hashes stop
joining with today's.

Where the key comes from, first match wins:

1. the Airflow connection ``r2r_email_hash`` (password field), from the metadata DB, a
   secrets backend or ``AIRFLOW_CONN_R2R_EMAIL_HASH``;
2. the environment variable ``R2R_EMAIL_HASH_KEY``;
3. the file ``$R2R_HOME/secrets/email_hash.key``, created once with a random key
   (mode 0600) when missing. This is the demo's and the tests' key; a deployment sets 1.
   or 2. explicitly and keeps the key with its other secrets.

The key is never logged, never written into SQL text, dbt vars or dbt logs: dbt reads it
from its process environment through a DuckDB function (``reach2revenue.duckdb_functions``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reach2revenue.failures import ConfigurationError
from reach2revenue.settings import Settings

log = logging.getLogger(__name__)

KEY_ENVIRONMENT_VARIABLE = "R2R_EMAIL_HASH_KEY"
CONNECTION_ID = "r2r_email_hash"
SQL_FUNCTION_NAME = "r2r_email_hash"
# 128 bits: shorter keys are guessable, whatever the hash.
MINIMUM_KEY_LENGTH = 16


class EmailHashKeyError(ConfigurationError):
    """No usable email hash key (missing, too short, or its file is unreadable)."""


@dataclass(frozen=True)
class EmailHashKey:
    """The secret and where it came from (the origin may be logged, the secret never)."""

    secret: str = field(repr=False)
    origin: str

    def digest(self, email: str | None) -> str | None:
        """The keyed hash of ``email``; None for a missing or blank email."""
        return email_hash(self.secret, email)


def normalise_email(email: str | None) -> str | None:
    """The form that is hashed: surrounding whitespace removed, lower case; None if blank."""
    if email is None:
        return None
    normalised = email.strip().lower()
    return normalised or None


def email_hash(key: str | bytes, email: str | None) -> str | None:
    """``hex(HMAC-SHA256(key, normalise_email(email)))``; None for a missing or blank email."""
    normalised = normalise_email(email)
    if normalised is None:
        return None
    key_bytes = key.encode() if isinstance(key, str) else key
    return hmac.new(key_bytes, normalised.encode(), hashlib.sha256).hexdigest()


def key_file_path(settings: Settings) -> Path:
    """Where the generated key of a home without a configured key is kept."""
    return settings.home / "secrets" / "email_hash.key"


def resolve_email_hash_key(
    settings: Settings, environ: Mapping[str, str] | None = None, *, create: bool = True
) -> EmailHashKey:
    """The key from the Airflow connection, the environment or the home's key file.

    Args:
        settings: The home whose ``secrets/email_hash.key`` is the last resort.
        environ: Environment to read (``os.environ`` when omitted).
        create: Create the key file with a random key when nothing else is configured.

    Raises:
        EmailHashKeyError: the configured key is shorter than 16 characters, or no key is
            configured and ``create`` is false.
    """
    from reach2revenue.credentials import _airflow_connection

    env = os.environ if environ is None else environ
    connection = _airflow_connection(CONNECTION_ID, env)
    if connection is not None and connection.password:
        return _checked(connection.password, f"airflow:{CONNECTION_ID}")
    from_environment = env.get(KEY_ENVIRONMENT_VARIABLE, "").strip()
    if from_environment:
        return _checked(from_environment, f"env:{KEY_ENVIRONMENT_VARIABLE}")
    path = key_file_path(settings)
    if not path.exists():
        if not create:
            raise EmailHashKeyError(
                f"no email hash key: define the Airflow connection {CONNECTION_ID!r} "
                f"(password) or set {KEY_ENVIRONMENT_VARIABLE}"
            )
        _create_key_file(path)
        # The path, never the key: a deployment should configure its own key.
        log.warning(
            "no email hash key configured (connection %r, %s): using the generated key "
            "file %s; keep it, or email hashes change",
            CONNECTION_ID,
            KEY_ENVIRONMENT_VARIABLE,
            path,
        )
    try:
        text = path.read_text().strip()
    except OSError as error:
        raise EmailHashKeyError(f"cannot read the email hash key file {path}: {error}") from None
    return _checked(text, f"file:{path}")


def _checked(secret: str, origin: str) -> EmailHashKey:
    secret = secret.strip()
    if len(secret) < MINIMUM_KEY_LENGTH:
        raise EmailHashKeyError(
            f"the email hash key from {origin} has {len(secret)} characters; "
            f"use at least {MINIMUM_KEY_LENGTH} (e.g. `openssl rand -hex 32`)"
        )
    return EmailHashKey(secret, origin)


def _create_key_file(path: Path) -> None:
    """Write a random key readable by its owner only; a concurrent creator wins cleanly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    # Written under a private name, then linked: the key file appears complete or not
    # at all, and of two processes creating it at once, one key wins for both.
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
