"""What each result depends on, read from the code: the project files a study imports, transitively.

A study's code version (the hash in its cached result and figure) and its Makefile prerequisites
both come from here, so the imports are the one list of a study's dependencies. Imports are read
with :mod:`ast` (nothing is executed), including those inside functions; importing a module also
imports its parent packages (their ``__init__.py``), so those count too. Only the project's own
packages count (:data:`PACKAGES`); JAX, NumPy and the rest are pinned by the environment.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("theory", "sgd", "experiments")


def module_file(module: str) -> Path | None:
    """The source file of a project module (a package's ``__init__.py``), None outside the project
    or when there is no such module."""
    if module.split(".")[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _imports(path: Path, module: str) -> frozenset[str]:
    """The project modules that the file of ``module`` imports, with their parent packages (each
    file parsed once per version of it: every study reaches the same shared files)."""
    status = path.stat()
    return _parsed_imports(path, module, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=None)
def _parsed_imports(path: Path, module: str, mtime_ns: int, size: int) -> frozenset[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if module_file(name) is not None:
                found.update(m for m in _with_parents(name) if module_file(m) is not None)
    return frozenset(found)


def project_files(module: str) -> list[Path]:
    """Every project file that importing ``module`` reads: the module, its parent packages and, by
    their imports, everything they reach, sorted."""
    seen, todo = set(), [m for m in _with_parents(module) if module_file(m) is not None]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(_imports(module_file(current), current) - seen)
    return sorted(module_file(m) for m in seen)


def declared_inputs(module: str) -> tuple:
    """The experiments whose cached results ``module`` reads: its module-level ``INPUTS`` tuple
    (read, not imported), empty when it has none."""
    for node in ast.parse(module_file(module).read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "INPUTS"
                                                for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    return ()


def code_version(module: str) -> str:
    """sha256 (12 hex digits) of the paths and bytes of :func:`project_files` of ``module``."""
    digest = hashlib.sha256()
    for path in project_files(module):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
