"""The demo's account card: a sign-in form, or the signed-in user and their devices.

The demo signs in by name alone (no password: it is a demo). With a server-side store the
card lists the user's sessions as devices, the current one marked; otherwise it says why it
cannot. Every value is escaped here; the result is HTML for the page's ``@@ACCOUNT@@``.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from sessionkit.store import SessionInfo

__all__ = ["MAX_NAME", "render_sign_in", "render_signed_in"]

MAX_NAME = 40  #: characters in a name to sign in as, at most


def render_sign_in(no_devices: str | None) -> str:
    """The account card of a browser nobody signed in on: the sign-in form."""
    note = "" if no_devices is None else _NOTE.format(html.escape(no_devices))
    return _SIGN_IN.format(max=MAX_NAME, note=note)


def render_signed_in(
    user: str, devices: list[SessionInfo] | None, current: str | None, no_devices: str | None
) -> str:
    """The account card of ``user``: their ``devices`` (``current`` marked), or why none."""
    if devices is None:
        listed = _NOTE.format(html.escape(no_devices or ""))
        everywhere = ""
    else:
        listed = (
            '<ul class="devices" id="devices">'
            + "".join(_device(info, info.handle == current) for info in devices)
            + "</ul>"
            + _ANOTHER_DEVICE
        )
        everywhere = _EVERYWHERE
    return _SIGNED_IN.format(user=html.escape(user), everywhere=everywhere, devices=listed)


def _device(info: SessionInfo, current: bool) -> str:
    return _DEVICE.format(
        current=" current" if current else "",
        handle=html.escape(info.handle),
        short=html.escape(info.handle[:8]),
        created=_time(info.created_at),
        seen=_time(info.last_seen_at),
        mark='<span class="tag">this device</span>' if current else "",
    )


def _time(moment: datetime) -> str:
    iso = moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    return f'<time datetime="{iso}">{moment:%Y-%m-%d %H:%M:%S} UTC</time>'


_NOTE = '<p class="note" id="no-devices">{}</p>'
_SIGN_IN = """<section class="card wide" id="account" aria-labelledby="account-title">
  <div class="head"><h2 id="account-title">Sign in</h2></div>
  <form id="sign-in-form" autocomplete="off">
    <input id="name" name="name" maxlength="{max}" required placeholder="Your name"
      aria-label="Name"><button type="submit">Sign in</button>
  </form>
  <p class="error" id="sign-in-error" role="alert" hidden></p>
  <p class="note">No password: this is a demo, so anyone may sign in as any name. Signing in
  puts the name in the session (on a server-side store, under a new session id).</p>
  {note}
</section>"""
_SIGNED_IN = """<section class="card wide" id="account" aria-labelledby="account-title">
  <div class="head"><h2 id="account-title">Signed in as <span id="user">{user}</span></h2>
    <div class="actions"><button class="quiet" id="sign-out" type="button">Sign out this
    device</button>{everywhere}</div></div>
  {devices}
</section>"""
_EVERYWHERE = (
    '<button class="quiet" id="sign-out-everywhere" type="button">Sign out everywhere</button>'
)
_ANOTHER_DEVICE = (
    '<p class="note">Your devices: the sessions signed in as you, newest first. Sign in with '
    "the same name in another browser (or a private window) to add one.</p>"
)
_DEVICE = (
    '<li class="device{current}" data-handle="{handle}"><span class="id">{short}</span>'
    '<span class="when">created {created} · last seen {seen}</span>{mark}</li>'
)
