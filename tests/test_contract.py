import re
from pathlib import Path

import pytest

from riskmodel import FAMILIES, SCHEMA

DOMAIN = Path(__file__).resolve().parents[2] / "shared" / "DOMAIN.md"


def _domain_table():
    text = DOMAIN.read_text()
    contract = text.split("## The data contract", 1)[1].split("Outcome of a finished", 1)[0]
    rows = [line.split("|")[1:-1] for line in contract.splitlines()
            if line.startswith("| ") and not line.startswith("| column")]
    return {r[0].strip(): [c.strip() for c in r] for r in rows}


@pytest.mark.skipif(not DOMAIN.exists(), reason="shared/DOMAIN.md is not beside the checkout")
def test_schema_has_every_contract_column_with_its_kind():
    table = _domain_table()
    assert list(table) == list(SCHEMA.names)
    for name, (_, kind, _, valid) in table.items():
        assert SCHEMA[name].kind == kind, name
        assert SCHEMA[name].required == ("required" in valid), name
        if kind == "category":
            assert list(SCHEMA[name].categories) == re.split(r",\s*", valid), name


@pytest.mark.skipif(not DOMAIN.exists(), reason="shared/DOMAIN.md is not beside the checkout")
def test_factor_families_match_the_contract():
    text = DOMAIN.read_text().split("## Factor families", 1)[1].split("## No public", 1)[0]
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| family"):
            family, columns = (c.strip() for c in line.split("|")[1:3])
            names = re.findall(r"[a-z0-9_]+", columns)
            names = [n for n in names if n in SCHEMA]
            assert set(SCHEMA.columns_of(family)) == set(names), family


def test_families_are_the_six_of_the_contract():
    assert set(FAMILIES) == {c.family for c in SCHEMA.feature_columns}


def test_fingerprint_is_stable():
    assert SCHEMA.fingerprint() == SCHEMA.fingerprint()
    assert len(SCHEMA.fingerprint()) == 64
