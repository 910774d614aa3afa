"""Starlette's own session test module passes against sessionkit: the drop-in bar.

The module is taken from the Starlette sdist matching the installed version (downloaded
with pip at test time, never committed), its import switched to sessionkit, and run in a
separate pytest process under Starlette's own conftest, which turns blocking calls on the
event loop into errors with blockbuster (a dev dependency) whenever it is installed: our
probe module checks that it is active. Set SESSIONKIT_OFFLINE=1 to skip it on a machine
without PyPI.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tarfile
from importlib.metadata import version
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

STARLETTE_IMPORT = "from starlette.middleware.sessions import Session, SessionMiddleware"
SESSIONKIT_IMPORT = "from sessionkit import Session, SessionMiddleware"
WANTED = ("tests/conftest.py", "tests/types.py", "tests/middleware/test_session.py")
# Run beside Starlette's tests: fails unless the conftest's blockbuster fixture is active.
BLOCKBUSTER_PROBE = """
import os
import posix


def test_blockbuster_is_active() -> None:
    assert os.stat is not posix.stat, "Starlette's conftest did not activate blockbuster"
"""
# Starlette's module uses the weak key "example" throughout: our SessionConfigWarning for
# it is intended behaviour, so it alone is not turned into an error.
PYTEST_INI = """[pytest]
addopts = --strict-markers -p no:cacheprovider
filterwarnings =
    error
    ignore::sessionkit.SessionConfigWarning
"""


def _fetch_sdist(into: Path) -> Path:
    release = version("starlette")
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    command += ["--no-binary", ":all:", f"starlette=={release}", "--dest", str(into)]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    return next(into.glob("starlette-*.tar.gz"))


def _extract_tests(sdist: Path, into: Path) -> None:
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            relative = member.name.split("/", 1)[-1]
            if relative in WANTED:
                target = into / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None
                target.write_bytes(source.read())
    for package in ("tests", "tests/middleware"):
        (into / package / "__init__.py").touch()


@pytest.mark.skipif(os.environ.get("SESSIONKIT_OFFLINE") == "1", reason="SESSIONKIT_OFFLINE=1")
def test_starlette_session_suite_passes_against_sessionkit(tmp_path: Path) -> None:
    """Starlette's test_session.py passes with sessionkit swapped in and blockbuster active."""
    assert importlib.util.find_spec("blockbuster"), "pip install blockbuster (the dev extra)"
    _extract_tests(_fetch_sdist(tmp_path / "download"), tmp_path / "suite")
    module = tmp_path / "suite" / "tests" / "middleware" / "test_session.py"
    source = module.read_text()
    assert source.count(STARLETTE_IMPORT) == 1, "Starlette's test module changed its import"
    module.write_text(source.replace(STARLETTE_IMPORT, SESSIONKIT_IMPORT))
    (tmp_path / "suite" / "pytest.ini").write_text(PYTEST_INI)
    (module.parent / "test_blockbuster_probe.py").write_text(BLOCKBUSTER_PROBE)

    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("SESSION_", "SECRET"))}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q"],
        cwd=tmp_path / "suite",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = result.stdout[-2000:] + result.stderr[-2000:]
    assert result.returncode == 0, summary
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed is not None, summary
    assert int(passed[1]) >= 10, summary
    assert "failed" not in result.stdout.splitlines()[-1], summary
