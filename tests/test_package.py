"""The public API and the promise that importing mtbench stays light.

`__all__` is exact, as httpx's tests/test_exported_members.py makes it: every public name a
package namespace holds is exported, and nothing else. A public name is one without a leading
underscore that is not a module and not a class, function or typing object imported from outside
mtbench (`importlib`, `Any`); constants and type aliases count. For `mtbench` itself the
namespace is `dir(mtbench)`, which lists the lazily imported names before their first use.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import types

import pytest
from conftest import run_python

import mtbench


def defined_outside_mtbench(value: object) -> bool:
    """A module, or a class/function/typing object whose home is not mtbench."""
    if isinstance(value, types.ModuleType):
        return True
    if getattr(value, "__origin__", None) is not None:  # an alias: Message = dict[str, str]
        return False
    module = getattr(value, "__module__", None)  # None for constants: tuples, dicts, strings
    return isinstance(module, str) and module.split(".")[0] != "mtbench"


def public_names(package: types.ModuleType) -> list[str]:
    return sorted(
        name
        for name in dir(package)
        if not name.startswith("_") and not defined_outside_mtbench(getattr(package, name))
    )


def packages_with_all() -> list[str]:
    found = ["mtbench"]
    for info in pkgutil.walk_packages(mtbench.__path__, "mtbench."):
        if info.ispkg and hasattr(importlib.import_module(info.name), "__all__"):
            found.append(info.name)
    return found


def test_all_names_are_exported():
    for name in mtbench.__all__:
        assert hasattr(mtbench, name), name


def test_the_lazy_names_are_listed_before_their_first_use():
    code = "import json, mtbench\nprint(json.dumps(sorted(set(dir(mtbench)) - set(vars(mtbench)))))"
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    unimported = json.loads(out.stdout)
    assert unimported and set(unimported) <= set(mtbench.__all__)


@pytest.mark.parametrize("name", packages_with_all())
def test_all_is_exactly_the_public_names(name):
    package = importlib.import_module(name)
    assert len(package.__all__) == len(set(package.__all__)), "a name is listed twice"
    assert sorted(package.__all__) == public_names(package)


def test_imports_from_outside_and_submodules_are_not_public_names():
    assert defined_outside_mtbench(importlib) and defined_outside_mtbench(mtbench.data)
    assert defined_outside_mtbench(types.SimpleNamespace)
    assert not defined_outside_mtbench(mtbench.Question)
    assert not defined_outside_mtbench(mtbench.CATEGORIES)
    assert not defined_outside_mtbench(dict[str, str])


def test_import_does_not_pull_heavy_dependencies():
    code = (
        "import sys, mtbench, mtbench.cli.show\n"
        "names = ('torch', 'transformers', 'matplotlib', 'ray', 'vllm', 'mlflow', 'wandb',\n"
        "         'huggingface_hub')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_exported_functions_are_defined_under_their_exported_names():
    from mtbench.analysis import consistency
    from mtbench.reports import browse, scores

    assert mtbench.render_report is scores.render_report
    assert mtbench.write_browse_report is browse.write_browse_report
    assert mtbench.single_pair_report is consistency.single_pair_report
    # The name before the rename (single-pair is what the command calls it) still works.
    assert mtbench.mode_report is consistency.single_pair_report
