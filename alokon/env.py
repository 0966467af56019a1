"""Typed readers for settings that come from the environment.

Every reader fails loudly: a value that cannot be understood stops start-up with
a message naming the variable and what was expected, instead of silently falling
back to a default (``DEBUG=maybe`` must not quietly mean ``False``).

Every variable can instead be given as a file: ``SECRET_KEY_FILE=/run/secrets/secret_key``
reads the value from that file (surrounding whitespace stripped), as Docker and
Kubernetes secrets are mounted. Setting both ``NAME`` and ``NAME_FILE`` is an error:
which one wins would be a guess.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    secret_file = os.environ.get(f"{name}_FILE")
    if secret_file:
        if value:
            raise ImproperlyConfigured(f"{name} and {name}_FILE are both set: set only one of them")
        value = _read_secret(f"{name}_FILE", secret_file)
    if value is None or value == "":
        return default
    return value


def _read_secret(name: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ImproperlyConfigured(f"{name}={path!r} cannot be read: {reason}") from None


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use one of: " + ", ".join(sorted(_TRUE | _FALSE)))


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int_map(name: str, default: dict[str, int]) -> dict[str, int]:
    """``key=number,key=number`` merged over ``default`` (keys not given keep theirs)."""
    value = env_str(name)
    result = dict(default)
    if value is None:
        return result
    for item in filter(None, (part.strip() for part in value.split(","))):
        key, sep, number = item.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            result[key.strip()] = int(number)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not key=integer") from None
        if result[key.strip()] < 0:
            raise ImproperlyConfigured(f"{name}: {item!r} must not be negative")
    return result


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of: {', '.join(choices)}")
    return value


def database_config(url: str, *, name: str = "DATABASE_URL") -> dict:
    """Parse a PostgreSQL URL into Django's DATABASES entry, refusing anything else."""
    import dj_database_url

    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise ImproperlyConfigured(
            f"{name} must be a postgresql:// URL (alokon needs PostgreSQL), got scheme {parts.scheme!r}"
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is malformed: {exc}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} names no database (expected postgresql://user@host:port/dbname)")
    if not config.get("HOST") and "host" not in (config.get("OPTIONS") or {}):
        raise ImproperlyConfigured(f"{name} names no host")
    try:
        parts.port  # noqa: B018 - raises ValueError on a non-numeric port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has a port that is not a number") from None
    return config
