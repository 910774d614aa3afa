"""A griffe extension for the API reference: Sphinx roles in docstrings become Markdown.

sessionkit's docstrings name other objects the Sphinx way (:class:`~sessionkit.SessionKey`,
:meth:`SessionSettings.from_config`). mkdocstrings renders Markdown, where those would show
literally, so each role becomes a code span: a link into the reference when the name is part
of the public API (``sessionkit.__all__``), plain code otherwise. Loaded by mkdocs.yml.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

import sessionkit

_ROLE = re.compile(r":(?:class|meth|func|data|attr|exc|mod):`(?P<tilde>~?)(?P<target>[^`]+)`")
_CALLABLE_ROLES = (":meth:", ":func:")


def convert(text: str) -> str:
    """``text`` with every Sphinx cross-reference role replaced by Markdown."""

    def replace(match: re.Match[str]) -> str:
        target = match["target"].removeprefix("sessionkit.")
        shown = target.rsplit(".", 1)[-1] if match["tilde"] else target
        if match[0].startswith(_CALLABLE_ROLES):
            shown += "()"
        if target.split(".", 1)[0] in sessionkit.__all__:
            return f"[`{shown}`][sessionkit.{target}]"
        return f"`{shown}`"

    return _ROLE.sub(replace, text)


class SphinxRoles(griffe.Extension):
    """Rewrites the roles in every docstring once the package is loaded."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
