"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mktsheets.libreoffice import find_soffice, recalculate

# --- LibreOffice, the formula referee ------------------------------------------


@pytest.fixture(scope="session")
def soffice() -> str:
    """Path of soffice; skip (or fail, when MKTSHEETS_REQUIRE_LIBREOFFICE=1) without it."""
    path = find_soffice()
    if path is None:
        reason = "LibreOffice (soffice) not found: install libreoffice-calc-nogui to run the formula referee tests"
        # CI sets the variable so that a broken install cannot pass as "all skipped".
        if os.environ.get("MKTSHEETS_REQUIRE_LIBREOFFICE") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture
def lo_recalc(soffice, tmp_path):
    """A function recalc(path) -> Path: LibreOffice's recalculated copy of an xlsx."""

    def recalc(path: Path) -> Path:
        return recalculate(path, tmp_path / "libreoffice")

    return recalc


# --- Further shared fixtures go below this line --------------------------------
