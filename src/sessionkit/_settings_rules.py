"""The rules a valid ``SessionSettings`` obeys across its fields, and the risks it warns of.

Each problem is one line naming the setting, its environment variable and the fix; values
are quoted only where they are not secrets.
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sessionkit._config import user_stacklevel
from sessionkit.exceptions import SessionConfigWarning

if TYPE_CHECKING:
    from sessionkit.settings import SessionSettings

__all__ = ["GENERATE_KEY_HINT", "MIN_KEY_LENGTH", "MIN_KEY_VARIETY", "problems", "warn_about_risks"]

GENERATE_KEY_HINT = "generate one with `python -m sessionkit generate-key`"
MIN_KEY_LENGTH = 32
MIN_KEY_VARIETY = 10

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 6265 path-value: any printable ASCII but ';' (we also refuse ',', which some parsers
# split on); a domain: letters, digits, '-' and '.', i.e. ASCII (international names in
# punycode).
_SAFE_PATH = re.compile(r"[\x21-\x2b\x2d-\x3a\x3c-\x7e]+")
_SAFE_DOMAIN = re.compile(r"[A-Za-z0-9.-]+")


def problems(settings: SessionSettings) -> list[str]:
    where = settings.where
    problems = []
    if not settings.secret_key.get_secret_value().strip():
        problems.append(
            f"{where('secret_key')} is empty or whitespace: sessions cannot be signed. "
            f"Set SECRET_KEY or the secret_key config item; {GENERATE_KEY_HINT}"
        )
    if any(not key.get_secret_value().strip() for key in settings.secret_key_fallbacks):
        problems.append(
            f"{where('secret_key_fallbacks')} contains an empty key; remove the empty entry"
        )
    for field in ("refresh_after", "absolute_lifetime"):
        value = getattr(settings, field)
        if value is not None and value <= 0:
            problems.append(
                f"{where(field)} is {value}, but it must be a positive number of seconds; "
                f"{settings.config_fixes[field]}"
            )
    problems += _cookie_problems(settings)
    problems += _store_problems(settings)
    if settings.encrypt:
        problems += _encryption_problems(settings)
    return problems


def _encryption_problems(settings: SessionSettings) -> list[str]:
    where = settings.where
    problems = []
    if not _has_cryptography():
        problems.append(
            f"{where('encrypt')} is True, but sealing cookies needs the `cryptography` "
            f"package: install the extra, pip install 'sessionkit[encryption]', or set "
            f"encrypt to False"
        )
    if settings.compress:
        problems.append(
            f"{where('compress')} and {where('encrypt')} are both True: compressing before "
            f"encrypting makes the cookie's length depend on its content, which lets an "
            f"attacker who can put text in a session guess its secrets from the cookie's "
            f"length (as CRIME did to TLS); set compress to False"
        )
    return problems


def _store_problems(s: SessionSettings) -> list[str]:
    where = s.where
    problems = []
    scheme = None
    if s.redis_url is not None:
        scheme = urlsplit(s.redis_url.get_secret_value()).scheme  # never echo the URL itself
        if scheme not in _REDIS_SCHEMES:
            problems.append(
                f"{where('redis_url')} does not start with redis://, rediss:// (TLS) or "
                f"unix:// (the value is not shown: it may hold a password); "
                f"{s.config_fixes['redis_url']}"
            )
    if s.redis_timeout <= 0:
        problems.append(
            f"{where('redis_timeout')} is {s.redis_timeout}, but it must be a positive number "
            f"of seconds; {s.config_fixes['redis_timeout']}"
        )
    if s.redis_cluster and s.redis_url is not None and scheme == "unix":
        problems.append(
            f"{where('redis_cluster')} is True, but {where('redis_url')} is a unix:// socket, "
            f"which a Redis Cluster cannot use (its nodes name each other by host and port); "
            f"give the redis:// or rediss:// URL of any node of the cluster"
        )
    return problems


_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})


def _has_cryptography() -> bool:
    """Whether sealing can work; it imports the sealing module now, at startup, so the first
    request (which may build the middleware, on the event loop) reads no module file."""
    try:
        import cryptography  # noqa: F401

        import sessionkit.sealing  # noqa: F401
    except ImportError:
        return False
    return True


def _cookie_problems(s: SessionSettings) -> list[str]:
    where = s.where
    problems = []
    name = s.session_cookie
    secure_fix = "set https_only=True (SESSION_HTTPS_ONLY=true) and serve the site over HTTPS"
    if not _TOKEN.fullmatch(name):
        problems.append(
            f"{where('session_cookie')} is {name!r}, which is not a valid cookie name "
            f"(RFC 6265 token: letters, digits and !#$%&'*+-.^_`|~); choose a name like 'session'"
        )
    if s.same_site == "none" and not s.https_only:
        problems.append(
            f"{where('same_site')} is 'none' but https_only is False: browsers reject "
            f"SameSite=None cookies without Secure; {secure_fix}, or use 'lax'"
        )
    if s.partitioned and not s.https_only:
        problems.append(
            f"{where('partitioned')} is True but https_only is False: browsers reject "
            f"Partitioned cookies without Secure; {secure_fix}"
        )
    lowered = name.lower()
    if lowered.startswith("__host-"):
        if not s.https_only:
            problems.append(
                f"{where('session_cookie')} {name!r} has the __Host- prefix, which browsers "
                f"accept only with Secure; {secure_fix}"
            )
        if s.domain is not None:
            problems.append(
                f"{where('domain')} is set but the cookie name {name!r} has the __Host- "
                f"prefix, which forbids a Domain; unset domain (SESSION_DOMAIN) or drop the prefix"
            )
        if s.path != "/":
            problems.append(
                f"{where('path')} is {s.path!r} but the cookie name {name!r} has the __Host- "
                f"prefix, which requires path '/'; set path to '/' or drop the prefix"
            )
    elif lowered.startswith("__secure-") and not s.https_only:
        problems.append(
            f"{where('session_cookie')} {name!r} has the __Secure- prefix, which browsers "
            f"accept only with Secure; {secure_fix}"
        )
    if not _SAFE_PATH.fullmatch(s.path):
        problems.append(
            f"{where('path')} is {s.path!r}, which is empty or contains a space, ';', ',', "
            f"a control or a non-ASCII character that would break or inject cookie "
            f"attributes; remove those characters (percent-encode non-ASCII ones)"
        )
    if s.domain is not None and not _SAFE_DOMAIN.fullmatch(s.domain):
        problems.append(
            f"{where('domain')} is {s.domain!r}, but a cookie domain holds only ASCII "
            f"letters, digits, '-' and '.': anything else would break or inject cookie "
            f"attributes; remove those characters (write international names in punycode)"
        )
    return problems


def warn_about_risks(settings: SessionSettings) -> None:
    where = settings.where
    keys = [("secret_key", settings.secret_key)] + [
        ("secret_key_fallbacks", key) for key in settings.secret_key_fallbacks
    ]
    for field, key in keys:
        value = key.get_secret_value()
        if len(value.encode()) < MIN_KEY_LENGTH or len(set(value)) < MIN_KEY_VARIETY:
            warnings.warn(
                f"{where(field)} looks weak (shorter than {MIN_KEY_LENGTH} bytes or few "
                f"distinct characters), so session cookies could be forged by guessing it; "
                f"{GENERATE_KEY_HINT}",
                SessionConfigWarning,
                stacklevel=user_stacklevel(),
            )
    if settings.max_age is not None and settings.max_age <= 0:
        warnings.warn(
            f"{where('max_age')} is {settings.max_age}: every session expires as soon as it "
            f"is issued; use a positive number of seconds, or for a browser-session cookie "
            f"leave SESSION_MAX_AGE empty or 'none' (max_age=None in code)",
            SessionConfigWarning,
            stacklevel=user_stacklevel(),
        )
    refresh, max_age = settings.refresh_after, settings.max_age
    if refresh is not None and max_age is not None and refresh >= max_age > 0:
        warnings.warn(
            f"{where('refresh_after')} is {refresh}, not less than max_age ({max_age}): "
            f"sessions expire before they are ever re-issued, so users are logged out while "
            f"active; use a value below max_age (by default, half of it)",
            SessionConfigWarning,
            stacklevel=user_stacklevel(),
        )
    if not settings.path.startswith("/"):
        warnings.warn(
            f"{where('path')} is {settings.path!r}, which does not start with '/': browsers "
            f"ignore such a Path and use the request's directory instead; start it with '/'",
            SessionConfigWarning,
            stacklevel=user_stacklevel(),
        )
