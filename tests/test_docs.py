"""The README's settings table documents every setting, as datasette's tests/test_docs.py does for its own:
a setting added without a row, or a row left behind by a renamed or removed setting, fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reelhouse.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"
PREFIX = Settings.model_config["env_prefix"]


def variable_cells() -> list[str]:
    """The first cell of each row of the table under "## Settings"."""
    section = README.read_text(encoding="utf-8").split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # past the header and its rule
    assert rows, "README.md has no settings table under ## Settings"
    return [row.split("|")[1].strip() for row in rows]


def table_variables() -> list[str]:
    return [name for cell in variable_cells() for name in re.findall(r"REELHOUSE_[A-Z0-9_]+", cell)]


@pytest.mark.parametrize("name", Settings.model_fields)
def test_setting_is_in_readme(name: str) -> None:
    assert f"{PREFIX}{name.upper()}" in table_variables()


def test_readme_lists_only_settings() -> None:
    settings = {f"{PREFIX}{name.upper()}" for name in Settings.model_fields}
    assert sorted(set(table_variables()) - settings) == [], "the README documents variables that are not settings"


def test_readme_has_one_row_per_variable() -> None:
    """Rows like "`REELHOUSE_A`, `…_B`" would hide a variable from these checks."""
    for cell in variable_cells():
        assert re.fullmatch(r"`REELHOUSE_[A-Z0-9_]+`", cell), f"one variable per row, in backticks: {cell!r}"
    assert len(table_variables()) == len(set(table_variables())), "a variable has more than one row"


@pytest.mark.parametrize("name", Settings.model_fields)
def test_setting_has_help_text(name: str) -> None:
    assert (Settings.model_fields[name].description or "").strip()
