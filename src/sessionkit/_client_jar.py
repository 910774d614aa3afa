"""The session cookie in an httpx2 client's cookie jar, filed as the app's own would be.

For :mod:`sessionkit.testing`. The jar (``http.cookiejar``) files a cookie that a response
sets without ``Domain`` under the request's host, with ``.local`` added to a host without a
dot (``testserver.local`` for Starlette's ``TestClient``); one with ``Domain`` under that
domain. Reading asks the client's own jar which cookies its next request would carry.
"""

from __future__ import annotations

import time
from http.cookiejar import Cookie
from typing import TYPE_CHECKING

from sessionkit.cookies import read_cookies

if TYPE_CHECKING:
    import httpx2

    from sessionkit.settings import SessionSettings

__all__ = ["ClientJar"]


class ClientJar:
    """The session cookie in ``client``'s jar, for the host of its base URL."""

    def __init__(
        self, client: httpx2.Client | httpx2.AsyncClient, settings: SessionSettings
    ) -> None:
        self.client = client
        self.settings = settings

    def values(self) -> list[str]:
        """The values of the session cookie the client's next request to the cookie's path
        carries (the client's own jar decides which cookies it sends)."""
        client, settings = self.client, self.settings
        request = client.build_request("GET", client.base_url.copy_with(path=settings.path))
        headers = [
            (b"cookie", line.encode("latin-1")) for line in request.headers.get_list("cookie")
        ]
        name = settings.session_cookie.encode("latin-1")
        return [value.decode("latin-1") for value in read_cookies(headers, name)]

    def replace(self, value: str | None) -> None:
        """Forget every session cookie of the jar; then hold ``value``, if any."""
        settings, jar = self.settings, self.client.cookies.jar
        for cookie in list(jar):
            if cookie.name == settings.session_cookie:
                jar.clear(cookie.domain, cookie.path, cookie.name)
        if value is None:
            return
        if settings.domain is not None:  # as a response's Domain attribute sets it
            domain, host_only = "." + settings.domain.lstrip("."), False
        else:  # the request's host, as the jar files a host-only cookie
            host = self.client.base_url.host
            domain, host_only = (host if "." in host or ":" in host else host + ".local"), True
        max_age = settings.max_age
        expires = None if max_age is None else int(time.time()) + max_age
        jar.set_cookie(
            Cookie(
                version=0,
                name=settings.session_cookie,
                value=value,
                port=None,
                port_specified=False,
                domain=domain,
                domain_specified=not host_only,
                domain_initial_dot=not host_only,
                path=settings.path,
                path_specified=True,
                secure=settings.https_only,
                expires=expires,
                discard=expires is None,
                comment=None,
                comment_url=None,
                rest={"HttpOnly": ""},
            )
        )
