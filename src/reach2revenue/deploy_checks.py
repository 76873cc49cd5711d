"""The image's entrypoint: refuse to start with a default or placeholder secret.

    python -m reach2revenue.deploy_checks [--check-only] [--] COMMAND [ARG ...]

Checks the environment the container was given, then replaces itself with ``COMMAND``
(``exec``, so the service's process gets signals directly). On any refusal it prints one
line per problem, naming the variable but never its value, and exits with 78
(``EX_CONFIG``): compose then reports the service as failed instead of running an Airflow
anyone could log into with a published secret.

What is checked (docs/deployment.md, "Secrets"):

- ``airflow ...`` commands: the JWT secret and the API secret key (32+ characters), a
  valid Fernet key, the email hash key ``R2R_EMAIL_HASH_KEY`` (16+ characters), and a
  Postgres metadata DB whose password has 16+ characters.
- ``airflow api-server``: the SimpleAuthManager's users (``[core]
  simple_auth_manager_users``, set explicitly) each have a password of 12+ characters in
  the secret file ``R2R_AIRFLOW_PASSWORDS_SECRET`` (JSON ``{"user": "password"}``), and
  all-admins mode is off. The file is then copied to ``[core]
  simple_auth_manager_passwords_file`` (mode 0600), which the auth manager must be able to
  write, so it reads our passwords instead of generating and logging new ones.
- ``r2r serve`` (the stand-ins): ``R2R_STANDIN_TOKEN`` has 16+ characters.
- Always, when set: every ``AIRFLOW_CONN_*`` (no ``<...>`` placeholder anywhere, no
  placeholder password or secret-named extra), the notification secrets.

A value is a placeholder when it is empty, a known default (``airflow``, ``admin``,
Airflow's ``{JWT_SECRET_KEY}``...), contains a marker such as ``change-me``, ``<...>`` or
``example``, or has fewer than 8 distinct characters. Standard library only: it runs before
every service starts.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

EX_CONFIG = 78
MIN_KEY_CHARS = 32
MIN_DB_PASSWORD_CHARS = 16
MIN_USER_PASSWORD_CHARS = 12
MIN_TOKEN_CHARS = 16
MIN_DISTINCT_CHARS = 8

AIRFLOW_KEYS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY")
# The key of the keyed email hashes (reach2revenue.email_hash), used by dbt in the tasks.
EMAIL_HASH_KEY = "R2R_EMAIL_HASH_KEY"
MIN_EMAIL_HASH_KEY_CHARS = 16
FERNET_KEY = "AIRFLOW__CORE__FERNET_KEY"
DB_CONN = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
USERS = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"
ALL_ADMINS = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"
PASSWORDS_FILE = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
PASSWORDS_SECRET = "R2R_AIRFLOW_PASSWORDS_SECRET"
DEFAULT_PASSWORDS_SECRET = "/run/secrets/airflow_user_passwords"
STANDIN_TOKEN = "R2R_STANDIN_TOKEN"
OPTIONAL_SECRETS = ("R2R_NOTIFY_SMTP_PASSWORD", "R2R_NOTIFY_WEBHOOK_TOKEN")

# Values shipped as defaults somewhere (Airflow's config templates, Postgres images,
# tutorials): normalised (lower case, letters and digits only).
KNOWN_DEFAULTS = frozenset(
    {
        "airflow",
        "admin",
        "password",
        "passw0rd",
        "secret",
        "secretkey",
        "postgres",
        "root",
        "test",
        "token",
        "jwtsecretkey",
        "fernetkey",
        "standintoken",
    }
)
PLACEHOLDER_MARKERS = (
    "changeme",
    "replaceme",
    "placeholder",
    "example",
    "yoursecret",
    "yourpassword",
    "yourtoken",
    "fillin",
    "setme",
    "dummy",
    "notasecret",
    "xxxxxx",
)
_TEMPLATE = re.compile(r"<[^<>]*>|\{[A-Z_]+\}|\$\{")
_SECRET_NAME = re.compile(r"(?i)token|secret|password|passwd|key")


def placeholder_reason(value: str) -> str | None:
    """Why ``value`` is a default or placeholder, or None when it is not."""
    text = value.strip()
    if not text:
        return "is empty"
    if _TEMPLATE.search(text):
        return "holds a template placeholder (<...>, {NAME} or ${...})"
    normalised = re.sub(r"[^a-z0-9]", "", text.lower())
    if normalised in KNOWN_DEFAULTS:
        return "is a well-known default"
    marker = next((m for m in PLACEHOLDER_MARKERS if m in normalised), None)
    if marker:
        return f"contains the placeholder marker {marker!r}"
    if len(set(text)) < MIN_DISTINCT_CHARS:
        return f"has fewer than {MIN_DISTINCT_CHARS} distinct characters"
    return None


def secret_problem(name: str, value: str | None, min_chars: int = 1) -> str | None:
    """One line saying what is wrong with secret ``name`` (never its value), or None."""
    if value is None:
        return f"{name} is not set"
    reason = placeholder_reason(value)
    if reason:
        return f"{name} {reason}"
    if len(value.strip()) < min_chars:
        return f"{name} is shorter than {min_chars} characters"
    return None


def fernet_key_problem(value: str | None) -> str | None:
    """A Fernet key is 32 random bytes, url-safe base64 encoded."""
    problem = secret_problem(FERNET_KEY, value)
    if problem:
        return problem
    try:
        raw = base64.urlsafe_b64decode(str(value).strip().encode())
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        return (
            f"{FERNET_KEY} is not a Fernet key (url-safe base64 of 32 random bytes; "
            "docs/deployment.md shows how to make one)"
        )
    return None


def database_problems(url: str | None) -> list[str]:
    """The metadata DB must be Postgres with a real password."""
    if not url:
        return [f"{DB_CONN} is not set"]
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgresql"):
        return [f"{DB_CONN} is not a Postgres URL (SQLite is for local runs only)"]
    problem = secret_problem(
        "the metadata DB password (POSTGRES_PASSWORD)",
        unquote(parts.password) if parts.password is not None else None,
        MIN_DB_PASSWORD_CHARS,
    )
    return [problem] if problem else []


def connection_problems(name: str, value: str) -> list[str]:
    """An ``AIRFLOW_CONN_*`` value (JSON or URI) must hold no placeholder."""
    if _TEMPLATE.search(value):
        return [f"{name} holds a template placeholder (<...>, {{NAME}} or ${{...}})"]
    problems = []
    text = value.strip()
    if text.startswith("{"):
        try:
            definition = json.loads(text)
        except json.JSONDecodeError as exc:
            return [f"{name} is not valid JSON ({exc.msg} at character {exc.pos})"]
        secrets = {"password": definition.get("password")}
        extra = definition.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra) if extra.strip() else {}
        secrets |= {key: v for key, v in extra.items() if _SECRET_NAME.search(key)}
    else:
        parts = urlsplit(text)
        secrets = {"password": unquote(parts.password) if parts.password else None}
    for key, secret in secrets.items():
        if secret is None or secret == "":
            continue  # public APIs (the ECB) have no token
        reason = placeholder_reason(str(secret))
        if reason:
            problems.append(f"{name}: {key} {reason}")
    return problems


def user_password_problems(environ: Mapping[str, str], secret_path: Path) -> list[str]:
    """Every configured user has a good password in the secret file."""
    problems = []
    if environ.get(ALL_ADMINS, "False").strip().lower() in ("true", "1", "t"):
        problems.append(f"{ALL_ADMINS} is on: everyone would be admin without logging in")
    users_text = environ.get(USERS, "").strip()
    if not users_text:
        return [*problems, f"{USERS} is not set (e.g. 'alice:admin,bob:viewer')"]
    users = [entry.split(":", 1)[0].strip() for entry in users_text.split(",") if entry.strip()]
    if not secret_path.is_file():
        return [*problems, f"no user password file at {secret_path} ({PASSWORDS_SECRET})"]
    try:
        passwords = json.loads(secret_path.read_text())
    except json.JSONDecodeError as exc:
        return [*problems, f"{secret_path} is not JSON ({exc.msg})"]
    if not isinstance(passwords, dict):
        return [*problems, f'{secret_path} is not a JSON object {{"user": "password"}}']
    for user in users:
        password = passwords.get(user)
        problem = secret_problem(
            f"the password of user {user!r}", password, MIN_USER_PASSWORD_CHARS
        )
        if problem is None and str(password).strip().lower() == user.lower():
            problem = f"the password of user {user!r} is the user name"
        if problem:
            problems.append(problem)
    return problems


def problems_for(command: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """Everything that stops ``command`` from starting with ``environ``."""
    problems: list[str] = []
    program = Path(command[0]).name if command else ""
    if program == "airflow":
        for name in AIRFLOW_KEYS:
            problem = secret_problem(name, environ.get(name), MIN_KEY_CHARS)
            if problem:
                problems.append(problem)
        problem = secret_problem(
            EMAIL_HASH_KEY, environ.get(EMAIL_HASH_KEY), MIN_EMAIL_HASH_KEY_CHARS
        )
        if problem:
            problems.append(problem)
        fernet = fernet_key_problem(environ.get(FERNET_KEY))
        if fernet:
            problems.append(fernet)
        problems += database_problems(environ.get(DB_CONN))
        if command[1:2] == ["api-server"]:
            secret = Path(environ.get(PASSWORDS_SECRET, DEFAULT_PASSWORDS_SECRET))
            problems += user_password_problems(environ, secret)
    if "r2r serve" in " ".join(command) or command[:2] == ["r2r", "serve"]:
        problem = secret_problem(STANDIN_TOKEN, environ.get(STANDIN_TOKEN), MIN_TOKEN_CHARS)
        if problem:
            problems.append(problem)
    for name in sorted(environ):
        if name.startswith("AIRFLOW_CONN_"):
            problems += connection_problems(name, environ[name])
    for name in OPTIONAL_SECRETS:
        if environ.get(name):
            problem = secret_problem(name, environ[name])
            if problem:
                problems.append(problem)
    return problems


def install_user_passwords(environ: Mapping[str, str]) -> Path | None:
    """Copy the checked password secret to where SimpleAuthManager reads (and may write) it."""
    target = environ.get(PASSWORDS_FILE)
    if not target:
        return None
    source = Path(environ.get(PASSWORDS_SECRET, DEFAULT_PASSWORDS_SECRET))
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(json.loads(source.read_text())) + "\n")
    partial.chmod(0o600)
    partial.replace(path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Check, then exec the command (or only check with ``--check-only``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    check_only = "--check-only" in args[:1]
    if check_only:
        args = args[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args and not check_only:
        print("usage: python -m reach2revenue.deploy_checks [--check-only] [--] COMMAND ...")
        return 2
    problems = problems_for(args, os.environ)
    if problems:
        print(f"refusing to start {' '.join(args[:2]) or 'the service'}:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print("see docs/deployment.md, section Secrets", file=sys.stderr)
        return EX_CONFIG
    if args[:2] == ["airflow", "api-server"]:
        install_user_passwords(os.environ)
    if check_only:
        return 0
    sys.stdout.flush()
    os.execvp(args[0], args)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
