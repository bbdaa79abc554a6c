"""riskmodel/config.py: every setting is read from its RISKMODEL_* variable and documented."""

from dataclasses import fields
from pathlib import Path

import pytest

from riskmodel import Settings, settings
from riskmodel.config import ConfigError

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_in_the_readme_table():
    text = README.read_text(encoding="utf-8")
    missing = [f.name for f in fields(Settings) if f"`RISKMODEL_{f.name.upper()}`" not in text]
    assert missing == []


def test_a_bad_value_names_the_variable_and_the_value():
    with pytest.raises(ConfigError, match=r"RISKMODEL_BEHIND_PROXY must be bool; got 'maybe'"):
        settings({"RISKMODEL_BEHIND_PROXY": "maybe"})
    assert settings({"RISKMODEL_BEHIND_PROXY": "yes"}).behind_proxy is True
