"""``CSRFMiddleware``: cross-site request forgery protection, without tokens for modern browsers.

:func:`check_cross_origin` decides as Go 1.25's ``net/http.CrossOriginProtection`` does:
``GET``/``HEAD``/``OPTIONS`` always pass (apps must not change state on them); an ``Origin``
equal to a trusted origin passes; ``Sec-Fetch-Site`` ``same-origin`` or ``none`` passes and any
other value is rejected; without it, no ``Origin`` passes (a non-browser client) and an
``Origin`` must otherwise name the request's ``Host``. Rejected requests never reach the app.
Two deliberate differences from Go, both about the same origin written differently: the
host is compared without case, and an explicit default port (``:80``, ``:443``) equals none;
malformed and ``null`` Origins are rejected. ``exempt_paths`` name paths below the app's mount
point (``root_path``), and a request path is exempt only if it is both as sent and with its
``.``, ``..`` and ``//`` segments resolved. With ``use_tokens=True`` unsafe requests must
also carry the session's :func:`csrf_token`, for old browsers and proxies that strip ``Origin``.
A form body read to find the token is replayed to the app as it arrived: when the client
disconnected before its end, the app gets the part that came with ``more_body: True``, then
the disconnect (as without this middleware), never a truncated body marked complete.
"""

from __future__ import annotations

import hmac
import inspect
import re
import secrets
import warnings
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import NoDecode
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from sessionkit._config import DeclaredSettings, split_list, user_stacklevel
from sessionkit._forms import FIELD, FORMS, form_token, read_body, replay
from sessionkit.exceptions import SessionConfigError, SessionConfigWarning, SessionNotInstalledError
from sessionkit.middleware import get_session
from sessionkit.session import Session

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection, Mapping

    from starlette.middleware import Middleware
    from starlette.requests import HTTPConnection
    from starlette.types import ASGIApp, Receive, Scope, Send

    RejectHandler = Callable[[Request, str], Response | Awaitable[Response]]

__all__ = ["CSRFMiddleware", "CSRFSettings", "check_cross_origin", "csrf_token"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_KEY = "_csrf_token"  #: where :func:`csrf_token` keeps the token in the session
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = FIELD
MAX_FORM_SIZE = 2 * 1024 * 1024  #: form bytes read to find CSRF_FIELD; larger: use the header

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?:{_LABEL}\.)*{_LABEL}$|^[0-9a-f.]*:[0-9a-f:.]*$")


class CSRFSettings(DeclaredSettings):
    """Every CSRF option, with its environment variable; validated at construction."""

    config_kind: ClassVar[str] = "CSRF"
    config_mapping: ClassVar[str] = "csrf_config"
    config_fixes: ClassVar[Mapping[str, str]] = {
        "trusted_origins": "write each origin as browsers send it, e.g. "
        "'https://app.example.com' or 'http://localhost:8000', comma-separated or a JSON list",
        "exempt_paths": "give absolute paths like '/webhooks/', comma-separated or a JSON list",
        "use_tokens": "use true or false",
    }

    trusted_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="CSRF_TRUSTED_ORIGINS",
        description="Origins (scheme://host[:port]) whose unsafe requests always pass, kept as "
        "browsers send them (lower case, no default port). Comma-separated or JSON in the env.",
    )
    exempt_paths: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="CSRF_EXEMPT_PATHS",
        description="Paths never checked (an insecure bypass): exact, or every path below one "
        "that ends with '/', below the app's mount point. Comma-separated or JSON in the env.",
    )
    use_tokens: bool = Field(
        default=False,
        validation_alias="CSRF_USE_TOKENS",
        description="Also require the session's token (X-CSRF-Token header or csrf_token form "
        "field) on unsafe requests. Needs SessionMiddleware in front.",
    )

    def __init__(self, **values: Any) -> None:
        # Explicit values go by field name (the pydantic plugin would type them by alias).
        super().__init__(**values)

    @classmethod
    def from_config(cls, csrf_config: Mapping[str, Any] | None = None) -> CSRFSettings:
        """Settings from the environment, with ``csrf_config`` merged over it (explicit wins)."""
        return cls(**dict(csrf_config or {}))

    def middleware(self, on_reject: RejectHandler | None = None) -> Middleware:
        """A ``Middleware`` entry to list after the session's in ``Starlette(middleware=...)``."""
        from starlette.middleware import Middleware

        return Middleware(CSRFMiddleware, settings=self, on_reject=on_reject)

    @field_validator("trusted_origins", "exempt_paths", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return split_list(value)

    @field_validator("trusted_origins")
    @classmethod
    def _normalize_origins(cls, origins: list[str]) -> list[str]:
        return [_normalize_origin(origin) for origin in origins]

    @field_validator("exempt_paths")
    @classmethod
    def _check_paths(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not path.startswith("/") or re.search(r"[\s?#]", path):
                raise ValueError(f"{path!r} is not a path starting with '/' (no spaces, ?, #)")
            if _normalize_path(path) != path:
                raise ValueError(
                    f"{path!r} has '.', '..' or repeated '/' segments and would never match; "
                    f"write {_normalize_path(path)!r}"
                )
        return paths

    def config_warnings(self) -> None:
        if "/" in self.exempt_paths:
            warnings.warn(
                f"{self.where('exempt_paths')} contains '/', which exempts every path: CSRF "
                "protection is off; list only the paths that authenticate otherwise, such as "
                "'/webhooks/', or remove CSRFMiddleware",
                SessionConfigWarning,
                stacklevel=user_stacklevel(),
            )


def _normalize_origin(origin: str) -> str:
    """``origin`` as browsers serialise it; a ValueError saying what is wrong with it."""
    try:
        parts = urlsplit(origin)
        port, scheme, host = parts.port, parts.scheme.lower(), parts.hostname or ""
    except ValueError as exc:
        raise ValueError(f"{origin!r} is not an origin ({exc})") from None
    if scheme not in _DEFAULT_PORTS or "://" not in origin:
        raise ValueError(f"{origin!r} needs the scheme http:// or https://")
    if parts.path or parts.query or parts.fragment or "?" in origin or "#" in origin:
        raise ValueError(f"{origin!r} has a path, query or fragment; only scheme://host[:port]")
    if parts.username is not None or not _HOSTNAME.match(host):
        raise ValueError(
            f"{origin!r} has no valid host (no wildcards or user info; list each "
            "origin, international names in punycode)"
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}"


def check_cross_origin(
    method: str,
    *,
    sec_fetch_site: str | None,
    origin: str | None,
    host: str | None,
    trusted_origins: Collection[str] = (),
) -> str | None:
    """Why the request must be rejected as cross-origin, or ``None`` when it may pass.

    Give each header's first value, or ``None`` when absent; an empty value counts as absent.
    """
    if method in SAFE_METHODS:
        return None
    if origin and origin in trusted_origins:
        return None
    if sec_fetch_site:
        if sec_fetch_site in ("same-origin", "none"):
            return None
        return f"cross-origin request detected from Sec-Fetch-Site: {sec_fetch_site}"
    if not origin or _same_host(origin, host):
        return None
    return (
        "cross-origin request detected, and/or browser is out of date: "
        "Sec-Fetch-Site is missing, and Origin does not match Host"
    )


def _same_host(origin: str, host: str | None) -> bool:
    """Whether ``origin`` names ``host``: the same host name (any case) and port.

    A port left out means the default port of the ``Origin``'s scheme: behind a proxy the
    request's own scheme is unknown, so, as in Go, HTTP→HTTPS passes (mitigate with HSTS).
    """
    if not host:
        return False
    try:
        parts, target = urlsplit(origin), urlsplit(f"//{host}")
        default = _DEFAULT_PORTS.get(parts.scheme.lower())
        ports = [default if p.port is None else p.port for p in (parts, target)]
    except ValueError:
        return False
    clean = not any(p.path or p.query or p.fragment or p.username for p in (parts, target))
    same = bool(parts.hostname) and parts.hostname == target.hostname
    return clean and same and default is not None and ports[0] == ports[1]


def csrf_token(conn: HTTPConnection) -> str:
    """The session's CSRF token, for pages and scripts to send back; made on first use."""
    session = get_session(conn)
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


class CSRFMiddleware:
    """Rejects unsafe cross-origin browser requests with a 403 before the app runs.

    Give ``settings=CSRFSettings(...)`` or the settings as keywords (``trusted_origins=[...]``),
    merged over the environment as :meth:`CSRFSettings.from_config` does. ``on_reject(request,
    reason)``, sync or async, may build the response for rejected requests.
    """

    def __init__(
        self,
        app: ASGIApp,
        /,
        settings: CSRFSettings | None = None,
        on_reject: RejectHandler | None = None,
        **csrf_config: Any,
    ) -> None:
        if settings is None:
            settings = CSRFSettings.from_config(csrf_config)
        elif csrf_config:
            names = ", ".join(sorted(csrf_config))
            raise TypeError(f"CSRFMiddleware takes settings= or settings ({names}), not both")
        handler: object = on_reject
        if handler is not None and not callable(handler):
            fix = "give a function (request, reason) -> Response, or None for the plain 403"
            raise SessionConfigError([f"on_reject is {handler!r}, not callable; {fix}"])
        self.app = app
        self.settings = settings
        self.on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or self._exempt(scope):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        reason = check_cross_origin(
            scope["method"],
            sec_fetch_site=headers.get("sec-fetch-site"),
            origin=headers.get("origin"),
            host=headers.get("host"),
            trusted_origins=self.settings.trusted_origins,
        )
        if reason is None and self.settings.use_tokens:
            reason, receive = await _check_token(scope, receive, headers)
        if reason is None:
            await self.app(scope, receive, send)
            return
        if self.on_reject is None:
            headers = Headers({"X-Content-Type-Options": "nosniff"})
            response: Response = PlainTextResponse(f"Forbidden: {reason}\n", 403, headers)
        else:
            result = self.on_reject(Request(scope, receive), reason)
            response = await result if inspect.isawaitable(result) else result
        await response(scope, receive, send)

    def _exempt(self, scope: Scope) -> bool:
        """Whether the app-relative path is exempt both as sent and normalised.

        The router matches the path as sent (``/admin/../webhooks/x`` reaches ``/admin/``'s
        routes), while a proxy or server in front may route it normalised
        (``/webhooks/../admin`` reaches ``/admin``): it passes unchecked only if both are exempt.
        """
        path = _route_path(scope)
        return self._exempt_path(path) and self._exempt_path(_normalize_path(path))

    def _exempt_path(self, path: str) -> bool:
        return any(
            path == exempt or (exempt.endswith("/") and path.startswith(exempt))
            for exempt in self.settings.exempt_paths
        )


def _route_path(scope: Scope) -> str:
    """The path below the app's mount point: ``scope["path"]`` without ``root_path``.

    ASGI servers and Starlette's ``Mount`` include ``root_path`` in ``path``; a path that
    does not start with it is taken as already relative (older servers).
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    rest = path[len(root) :]
    if root and path.startswith(root) and rest[:1] in ("", "/"):
        return rest or "/"
    return path


def _normalize_path(path: str) -> str:
    """``path`` with repeated slashes collapsed and ``.``/``..`` segments resolved (RFC 3986).

    A final ``.`` or ``..`` leaves a trailing slash, as a trailing slash is kept: it means
    "below this path" to ``exempt_paths``.
    """
    segments: list[str] = []
    parts = path.split("/")
    for part in parts:
        if part == "..":
            if segments:
                segments.pop()
        elif part not in ("", "."):
            segments.append(part)
    trailing = "/" if segments and parts[-1] in ("", ".", "..") else ""
    return "/" + "/".join(segments) + trailing


async def _check_token(
    scope: Scope, receive: Receive, headers: Headers
) -> tuple[str | None, Receive]:
    """Why the request's token is not the session's, or ``None``; and the receive to use."""
    expected = _session(scope).get(SESSION_KEY)
    given = headers.get(CSRF_HEADER)
    content_type = headers.get("content-type", "")
    if given is None and content_type.lower().startswith(FORMS):
        read = await read_body(receive, MAX_FORM_SIZE)
        if read is None:
            return f"form over {MAX_FORM_SIZE} bytes: send the token as {CSRF_HEADER}", receive
        body, complete = read
        receive = replay(body, complete, receive)
        given = form_token(content_type, body)
    if given is None:
        return f"CSRF token missing: send it as {CSRF_HEADER} or form field {CSRF_FIELD}", receive
    if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), given.encode()):
        return "CSRF token incorrect or expired: reload the page and try again", receive
    return None, receive


def _session(scope: Scope) -> Session:
    session = scope.get("session")
    if not isinstance(session, Session):
        raise SessionNotInstalledError(
            "CSRFMiddleware has use_tokens=True, which keeps the token in the session, but the "
            "request has no sessionkit session; list SessionMiddleware before CSRFMiddleware: "
            "middleware=[session_settings.middleware(), csrf_settings.middleware()]"
        )
    session.mark_accessed()  # the response depends on the cookie: Vary: Cookie
    return session
