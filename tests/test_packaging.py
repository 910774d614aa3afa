"""What the package declares about itself is true of the repository."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_declared_license_file_exists_and_is_mit() -> None:
    """pyproject's license is MIT, and every license file it names is there, with MIT's text."""
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"]
    for name in PROJECT["license-files"]:
        text = (ROOT / name).read_text()
        assert text.startswith("MIT License")
        assert "Permission is hereby granted, free of charge" in text
