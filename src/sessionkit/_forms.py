"""Form bodies for the CSRF token check: read them (bounded), find the token field, and
replay them to the app exactly as they arrived.

No general form parser runs on client data: both scans are linear in the body.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

if TYPE_CHECKING:
    from starlette.types import Message, Receive

__all__ = ["FIELD", "FORMS", "form_token", "read_body", "replay"]

FIELD = "csrf_token"  #: the form field that carries the token
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")  #: scanned content types


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool] | None:
    """The request body and whether it is complete (``False``: the client disconnected before
    its end); ``None`` once it is over ``limit`` bytes."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body), False
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return bytes(body), True


def replay(body: bytes, complete: bool, receive: Receive) -> Receive:
    """A ``receive`` that gives the app ``body`` again as it arrived, then reads on.

    A complete body ends with ``more_body: False`` and later calls read on (e.g. the
    disconnect). A body cut short by a disconnect keeps ``more_body: True`` and is followed
    by the disconnect, repeated on every later call: the app never sees it as complete.
    """
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": not complete}]
    if not complete:
        pending.append({"type": "http.disconnect"})

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive() if complete else {"type": "http.disconnect"}

    return replayed


def form_token(content_type: str, body: bytes) -> str | None:
    """The first :data:`FIELD` of an urlencoded or multipart body, if any; anything
    malformed means "no token": a 403, never a 500.
    """
    try:
        if content_type.lower().startswith("multipart/form-data"):
            return _multipart_token(content_type, body)
        match = _URLENCODED_TOKEN.search(body)
        return unquote_plus(match[1].decode("ascii"), errors="strict") if match else None
    except Exception:  # the trust boundary: a malformed form has no token
        return None


def _multipart_token(content_type: str, body: bytes) -> str | None:
    boundary = _BOUNDARY.search(content_type)
    if boundary is None:
        return None
    for part in body.split(b"--" + boundary[1].encode("latin-1"))[1:]:
        head, found, content = part.partition(b"\r\n\r\n")
        if found and len(head) <= _MAX_PART_HEAD and _PART_NAMED_TOKEN.search(head):
            return content.removesuffix(b"\r\n").decode("utf-8")
    return None


_NAME = re.escape(FIELD).encode("ascii")
_URLENCODED_TOKEN = re.compile(rb"(?:^|&)" + _NAME + rb"=([^&]*)")
_BOUNDARY = re.compile(r'boundary="?([^";,\s]{1,200})"?', re.IGNORECASE)
_PART_NAMED_TOKEN = re.compile(
    rb'content-disposition:[^\r\n]*?;\s*name="?' + _NAME + rb'"?\s*(?:;|$)', re.I | re.M
)
_MAX_PART_HEAD = 1024
