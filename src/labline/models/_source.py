"""The model's own source code: collecting it into a package and importing it back from one.

Collecting starts from the modules that define the model's classes and follows their
``import`` statements to every *local* module (one that is neither in the standard library nor
provided by an installed distribution). Installed distributions become pinned requirements
instead.

Importing happens inside :func:`package_modules`: a meta-path finder placed in front of all
others serves the package's modules from their already-verified bytes, and any module of the
same name already imported by the host process is set aside for the duration and put back
afterwards. No ``sys.path`` entry is added, so the package can only ever run its own code, and
two versions of the same model can be loaded side by side in one process.
"""

from __future__ import annotations

import ast
import functools
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import sys
import sysconfig
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from .._exceptions import InvalidArgumentError

CODE_DIR = "code"

_IMPORT_LOCK = threading.RLock()


@functools.lru_cache(maxsize=1)
def _library_roots() -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return tuple(Path(p).resolve() for p in roots)


@functools.lru_cache(maxsize=1)
def _distributions_by_module() -> Mapping[str, list[str]]:
    # scanning every installed distribution takes about half a second: do it once
    return importlib.metadata.packages_distributions()


def is_library_module(top: str) -> bool:
    """True if the top-level module ``top`` is a library rather than the researcher's code.

    Libraries are the standard library, anything installed into site-packages, and labline
    itself. A project installed in editable mode (``pip install -e .``) lives outside
    site-packages and counts as the researcher's code: its source goes into the package,
    because that source, not whatever is installed at load time, is what made the outputs.
    """
    if top in sys.stdlib_module_names or top in sys.builtin_module_names or top == "labline":
        return True
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return True
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        locations = [] if spec is None else list(spec.submodule_search_locations or [])
        if not locations:
            return True
        origin = Path(locations[0]).resolve()  # a namespace package: judge by its folder
    else:
        origin = Path(spec.origin).resolve()
    return any(origin.is_relative_to(root) for root in _library_roots())


def _imported_modules(source: bytes, module: str, is_pkg: bool) -> set[str]:
    """Dotted names a module's ``import`` statements may refer to (absolute and relative)."""
    package = module if is_pkg else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                try:
                    base = importlib.util.resolve_name(
                        "." * node.level + (node.module or ""), package
                    )
                except (ImportError, ValueError):
                    continue
            elif node.module:
                base = node.module
            else:
                continue
            names.add(base)
            # `from pkg import name` may import the submodule pkg.name
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _find_source(name: str) -> tuple[str, bytes] | None:
    """Return ``(path under code/, source)`` of module ``name``, or None if it is not a module."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        return None  # not a module (an attribute), or a namespace package
    origin = Path(spec.origin)
    if origin.suffix != ".py":
        raise InvalidArgumentError(f"module {name!r} has no Python source file ({origin.name})")
    base = name.replace(".", "/")
    rel = f"{base}/__init__.py" if spec.submodule_search_locations is not None else f"{base}.py"
    return rel, origin.read_bytes()


def collect_sources(modules: list[str]) -> tuple[dict[str, bytes], set[str]]:
    """Collect the source of ``modules`` and of the local modules they import, transitively.

    Only modules actually reachable through ``import`` statements are collected (plus the
    ``__init__.py`` of their parent packages), not whole project trees.

    Args:
        modules: dotted names of the modules defining the model's classes.

    Returns:
        ``(files, library_tops)``: source files keyed by their path relative to the package's
        ``code/`` folder, and the top-level names of the installed libraries they import.

    Raises:
        InvalidArgumentError: a class is defined in ``__main__`` or its source is unavailable.
    """
    files: dict[str, bytes] = {}
    libraries: set[str] = set()
    todo = list(modules)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        top = name.split(".")[0]
        if top == "__main__":
            raise InvalidArgumentError(
                "the model's class is defined in __main__; move it into a module file so its "
                "source can be packaged with the model"
            )
        if is_library_module(top):
            libraries.add(top)
            continue
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages
        found = _find_source(name)
        if found is None:
            continue
        rel, src = found
        files[rel] = src
        try:
            todo.extend(_imported_modules(src, name, rel.endswith("__init__.py")) - seen)
        except SyntaxError as e:
            raise InvalidArgumentError(
                f"cannot parse the model source file {rel!r}: {e.msg}"
            ) from None
    return files, libraries


def module_name_of(rel: str) -> tuple[str, bool]:
    """Map ``pkg/sub/mod.py`` to ``("pkg.sub.mod", False)`` and ``pkg/__init__.py`` to ``("pkg", True)``."""
    parts = rel[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


class _VerifiedSourceLoader(importlib.abc.Loader):
    def __init__(self, source: bytes, filename: str) -> None:
        self._source = source
        self._filename = filename

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        code = compile(self._source, self._filename, "exec", dont_inherit=True)
        exec(code, module.__dict__)


class _PackageFinder(importlib.abc.MetaPathFinder):
    def __init__(self, sources: Mapping[str, bytes], origin_dir: Path) -> None:
        self._modules: dict[str, tuple[bytes, bool, str]] = {}
        for rel, src in sources.items():
            name, is_pkg = module_name_of(rel)
            self._modules[name] = (src, is_pkg, str(origin_dir / rel))
        for name in list(self._modules):  # parents without __init__.py (namespace packages)
            parts = name.split(".")
            for i in range(1, len(parts)):
                parent = ".".join(parts[:i])
                if parent not in self._modules:
                    path = origin_dir / parent.replace(".", "/") / "__init__.py"
                    self._modules[parent] = (b"", True, str(path))

    @property
    def tops(self) -> set[str]:
        return {name.split(".")[0] for name in self._modules}

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        entry = self._modules.get(fullname)
        if entry is None:
            return None
        src, is_pkg, filename = entry
        spec = importlib.util.spec_from_loader(
            fullname, _VerifiedSourceLoader(src, filename), origin=filename, is_package=is_pkg
        )
        if spec is not None:
            spec.has_location = True
        return spec


@contextmanager
def package_modules(sources: Mapping[str, bytes], origin_dir: Path) -> Iterator[None]:
    """Make the package's (verified) modules importable for the duration of the block.

    Args:
        sources: verified source bytes keyed by path relative to ``code/``.
        origin_dir: the package's ``code/`` folder, used only for tracebacks.
    """
    finder = _PackageFinder(sources, origin_dir)
    tops = finder.tops
    with _IMPORT_LOCK:

        def ours(name: str) -> bool:
            return name.split(".")[0] in tops

        set_aside = {k: v for k, v in sys.modules.items() if ours(k)}
        for k in set_aside:
            del sys.modules[k]
        sys.meta_path.insert(0, finder)
        importlib.invalidate_caches()
        try:
            yield
        finally:
            sys.meta_path.remove(finder)
            for k in [k for k in sys.modules if ours(k)]:
                del sys.modules[k]
            sys.modules.update(set_aside)


def pinned_versions(tops: set[str]) -> dict[str, str]:
    """Return ``{distribution: installed version}`` for the distributions providing ``tops``."""
    by_module = _distributions_by_module()
    out: dict[str, str] = {}
    for top in sorted(tops):
        for dist in by_module.get(top, []):
            try:
                out[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue
    return out


def installed_version(dist: str) -> str | None:
    """Return the installed version of distribution ``dist``, or ``None``."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def relpath_ok(rel: str) -> bool:
    """True if ``rel`` is a safe relative POSIX path inside a package (no ``..``, not absolute)."""
    p = Path(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and "\\" not in rel
