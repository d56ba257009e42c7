"""The library's structure: no import cycle in drai/, the data layer imports nothing above it, and the settings
the workflow builds when it parses the Snakefile import no heavy library."""

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "drai"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the drai modules it imports, at its top or inside a function (``if TYPE_CHECKING:`` aside);
    ``from drai.x import y`` counts as an import of the module drai.x.y where there is one, else of drai.x."""
    modules = {module_name(path): path for path in LIBRARY.rglob("*.py")}

    def resolved(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        type_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
        imported = set()
        for node in ast.walk(tree):
            if id(node) in type_only:
                continue
            if isinstance(node, ast.Import):
                imported |= {resolved(alias.name) for alias in node.names if alias.name.startswith("drai")}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("drai"):
                imported |= {resolved(f"{node.module}.{alias.name}") for alias in node.names}
        graph[name] = imported - {name, ""}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_drai_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


# The data layer (patch sets, datasets, their sources) sits below what consumes it.
ABOVE_THE_DATA = ("drai.metrics", "drai.figures", "drai.train", "drai.evaluation", "drai.audit", "drai.tables")


def test_the_data_layer_imports_nothing_above_it():
    upward = {
        (module, target)
        for module, targets in import_graph().items()
        if module.startswith("drai.data")
        for target in targets
        if target.startswith(ABOVE_THE_DATA)
    }
    assert upward == set()


LIGHT = """
import json, sys
import drai.config, drai.figures.specs, drai.metrics.settings, drai.tables, drai.train.settings
from drai.data.registry import datasets
for key in datasets():
    __import__(f"drai.data.{key}.settings")
print(json.dumps(sorted(sys.modules)))
"""
HEAVY = ("torch", "torchvision", "torch_fidelity", "scipy", "skimage", "SimpleITK", "pydicom", "sklearn", "matplotlib")


def test_building_settings_imports_no_heavy_library():
    result = subprocess.run(
        [sys.executable, "-c", LIGHT], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}
    )
    assert result.returncode == 0, result.stderr
    heavy = sorted(m for m in json.loads(result.stdout) if m.split(".")[0] in HEAVY)
    assert heavy == [], heavy[:5]


# What a dataset is: its package (drai/data/<key>/, its rule file inside it). Everything else reads datasets
# from the registry, so no name of one may appear in its code: identifiers, attributes and string values
# (docstrings and comments, which may describe the paper's datasets, aside).
DATASET_NAMES = ("lidc", "ham10000")
DATASET_PACKAGES = tuple(LIBRARY / "data" / name for name in DATASET_NAMES)


def _docstrings(tree: ast.AST) -> set[int]:
    nodes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, nodes) and node.body and isinstance(node.body[0], ast.Expr)
    }


def dataset_names_in_code(source: str) -> list[str]:
    """The identifiers and string values of Python ``source`` that name a dataset (``pylidc``, the library, does
    not)."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    words = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            words.append(node.id)
        elif isinstance(node, ast.Attribute):
            words.append(node.attr)
        elif isinstance(node, ast.alias):
            words.append(node.name)
        elif isinstance(node, ast.ImportFrom):
            words.append(node.module or "")
        elif isinstance(node, ast.arg):
            words.append(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            words.append(node.name)
        elif isinstance(node, ast.keyword) and node.arg:
            words.append(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            words.append(node.value)
    return [word for word in words if any(name in word.lower().replace("pylidc", "") for name in DATASET_NAMES)]


def snakemake_code(text: str) -> str:
    """A rule file's lines without their comments (enough for the names it uses)."""
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def test_no_code_outside_a_dataset_package_names_a_dataset():
    files = [
        path
        for folder in ("drai", "workflow_scripts", "rules")
        for path in sorted((ROOT / folder).rglob("*"))
        if path.suffix in (".py", ".smk") and not any(path.is_relative_to(p) for p in DATASET_PACKAGES)
    ] + [ROOT / "Snakefile"]
    found = {}
    for path in files:
        text = path.read_text()
        if path.suffix == ".py":
            names = dataset_names_in_code(text)
        else:
            names = [
                w for w in snakemake_code(text).lower().replace("pylidc", "").split() if "lidc" in w or "ham10000" in w
            ]
        if names:
            found[str(path.relative_to(ROOT))] = names[:3]
    assert found == {}


def test_the_name_finder_finds_names_in_code_and_not_in_docstrings():
    source = '"""LIDC and HAM10000."""\nimport pylidc\nx = config["lidc"]\ndef f(ham10000_dir):\n    "HAM10000."\n'
    assert sorted(dataset_names_in_code(source)) == ["ham10000_dir", "lidc"]
