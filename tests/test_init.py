"""The core's public API (riskmodel/__init__.py): one list of names, loaded on first use."""

import ast
import subprocess
import sys
from pathlib import Path

import riskmodel


def test_the_type_checkers_copy_names_the_same_public_api():
    tree = ast.parse(Path(riskmodel.__file__).read_text())
    guarded = next(node for node in tree.body if isinstance(node, ast.If)
                   and ast.unparse(node.test) == "TYPE_CHECKING")
    imported = {alias.name: node.module.removeprefix("riskmodel.")
                for node in guarded.body for alias in node.names}
    assert imported == riskmodel._EXPORTS
    assert sorted(riskmodel.__all__) == sorted(imported)


def test_every_public_name_resolves_to_the_module_that_defines_it():
    for name, module in riskmodel._EXPORTS.items():
        value = getattr(riskmodel, name)
        assert value is getattr(sys.modules[f"riskmodel.{module}"], name), name


def test_importing_the_package_loads_no_submodule_and_a_name_loads_only_its_own():
    core = "{m for m in sys.modules if m.startswith('riskmodel.')}"
    code = (f"import sys, riskmodel; before = {core}; riskmodel.SCHEMA; after = {core}; "
            "print(sorted(before), 'pandas' in sys.modules, sorted(after))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[] False ['riskmodel.contract']"


def test_an_unknown_name_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        riskmodel.nothing_here  # noqa: B018
