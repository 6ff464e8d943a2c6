"""No module imports a layer above its own (the README's Architecture section lists the layers)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "jaxrl"
# Lowest first; a module may import its own layer and those before it.
LAYERS = [
    ("jaxrl.types",),
    ("jaxrl.config",),
    ("jaxrl.core",),
    ("jaxrl.nets",),
    ("jaxrl.envs", "jaxrl.distributed"),
    ("jaxrl.agents",),
    ("jaxrl.io",),
    ("jaxrl.loops",),
    ("jaxrl.api",),
    ("jaxrl.cli", "jaxrl.bench"),
]


def layer_of(module: str) -> int:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer; add it to LAYERS and the README")


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name != "jaxrl":
            yield name, path


def imported_jaxrl_modules(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jaxrl"):
            if node.module == "jaxrl":  # `from jaxrl import x`: the submodule or the public API
                yield from (f"jaxrl.{alias.name}" if (PACKAGE / alias.name).exists() or
                            (PACKAGE / f"{alias.name}.py").exists() else "jaxrl.api" for alias in node.names)
            else:
                yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("jaxrl."))


@pytest.mark.parametrize("module, path", list(modules()), ids=lambda v: v if isinstance(v, str) else "")
def test_no_module_imports_a_layer_above_it(module, path):
    own = layer_of(module)
    above = sorted({name for name in imported_jaxrl_modules(path) if layer_of(name) > own})
    assert not above, f"{module} (layer {own}) imports {above}"


def test_no_file_in_the_package_is_over_400_lines():
    long = {str(path.relative_to(PACKAGE)): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text().splitlines())) > 400}
    assert not long, long
