"""The architecture: the library never imports the application, and no import changes a
global JAX setting."""
import ast
import subprocess
import sys
from pathlib import Path

import ntk_attack

LIBRARY = Path(ntk_attack.__file__).parent


def imported_modules(path: Path) -> set:
    """Every module named by an ``import`` or ``from ... import`` anywhere in ``path``
    (function bodies included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module)
    return names


def test_library_never_imports_the_application():
    offenders = {str(path.relative_to(LIBRARY.parent)): sorted(
                     name for name in imported_modules(path)
                     if name == "verification" or name.startswith("verification."))
                 for path in sorted(LIBRARY.rglob("*.py"))}
    offenders = {path: names for path, names in offenders.items() if names}
    assert not offenders, f"ntk_attack modules importing verification: {offenders}"


def test_the_walk_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from verification import report\n")
    assert "verification" in imported_modules(module)


def test_imports_leave_float64_off_and_load_neither_neural_tangents_nor_tensorflow():
    """In a fresh process: importing the library, its kernels, deep nets and theory, and the
    verification layer leaves float64 off and loads neither neural-tangents nor TensorFlow
    (they are imported lazily, on first use)."""
    code = ("import sys, jax, ntk_attack, ntk_attack.kernels, ntk_attack.deep, ntk_attack.theory, "
            "verification, verification.report, verification.cli, verification.claims.attacks\n"
            "assert not jax.config.jax_enable_x64\n"
            "heavy = [m for m in ('neural_tangents', 'tensorflow') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert done.returncode == 0, done.stderr
