"""Property-based tests: whatever a client sends, the answer is a session or no session."""

from __future__ import annotations

import asyncio
from typing import Any

import pydantic_core
from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous.encoding import base64_encode, int_to_bytes
from starlette.types import Message, Receive, Scope, Send

from sessionkit import SessionCodec, SessionMiddleware, SessionSettings
from tests.conftest import KEY, OLD_KEY

KEYS = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
SESSIONS = st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=5)


def echo_app() -> SessionMiddleware:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = pydantic_core.to_json(dict(scope["session"]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return SessionMiddleware(app, settings=SessionSettings(secret_key=KEY))


def call(app: SessionMiddleware, cookie_header: bytes) -> tuple[int, bytes]:
    """One HTTP request straight through ASGI, with a raw Cookie header."""
    messages: list[Message] = []
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"cookie", cookie_header)]}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    return messages[0]["status"], messages[1]["body"]


APP = echo_app()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_cookie_bytes_give_an_empty_session(raw: bytes) -> None:
    """Any bytes as the cookie value give 200 and an empty session, never an error."""
    assert call(APP, b"session=" + raw.replace(b";", b"")) == (200, b"{}")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_cookie_strings_decode_to_nothing(text: str) -> None:
    """codec.decode never raises on any string, and random text never verifies."""
    assert SessionCodec([KEY]).decode(text) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_signed_payloads_must_be_json_objects(payload: bytes) -> None:
    """A validly signed payload decodes only when it is a JSON object, and then exactly."""
    codec = SessionCodec([KEY])
    token = codec.sign(payload)
    decoded = codec.decode(token)
    try:
        expected = pydantic_core.from_json(payload)
    except ValueError:
        expected = None
    if isinstance(expected, dict):
        assert decoded is not None
        assert decoded.data == expected
    else:
        assert decoded is None


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_signed_garbage_in_every_field_never_raises(garbage: bytes) -> None:
    """Validly signed values with garbage in the payload/created fields never raise."""
    codec = SessionCodec([KEY])
    signer = codec._signers[0]
    for value in (garbage, b"." + garbage, base64_encode(garbage) + b"." + garbage):
        codec.decode(signer.sign(value))  # must not raise
    created = base64_encode(int_to_bytes(1))
    assert codec.decode(signer.sign(b"." + base64_encode(garbage) + b"." + created)) is None


@settings(max_examples=150, deadline=None)
@given(SESSIONS, st.lists(KEYS, min_size=1, max_size=4, unique=True), st.data())
def test_rotation_reads_only_with_the_signing_key(
    data: dict[str, Any], keys: list[str], draw: st.DataObject
) -> None:
    """A cookie decodes to exactly its own data with any key list holding its key, else not."""
    signing_key = draw.draw(st.sampled_from(keys))
    cookie = SessionCodec([signing_key]).encode(data)
    others = [k for k in keys if k != signing_key]
    with_key = draw.draw(st.permutations([signing_key, *others]))
    decoded = SessionCodec(with_key).decode(cookie)
    assert decoded is not None
    assert decoded.data == data
    assert decoded.stale is (with_key[0] != signing_key)
    if others:
        assert SessionCodec(others).decode(cookie) is None


@settings(max_examples=200, deadline=None)
@given(SESSIONS, SESSIONS, st.integers(min_value=0), st.integers(0, 255))
def test_tampering_never_yields_other_data(
    mine: dict[str, Any], theirs: dict[str, Any], position: int, byte: int
) -> None:
    """Changing any byte of a cookie gives no session or the same session, never another."""
    codec = SessionCodec([KEY, OLD_KEY])
    cookie = bytearray(codec.encode(mine).encode())
    cookie[position % len(cookie)] = byte
    decoded = codec.decode(bytes(cookie))
    assert decoded is None or decoded.data == mine
    their_cookie = codec.encode(theirs)
    assert codec.decode(their_cookie) is not None
