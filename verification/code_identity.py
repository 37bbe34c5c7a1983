"""What a cached point depends on: the code a point function runs, found by a walk of its names.

A point function's identity is the digest of

- its own source and, transitively, the source of every function and class it references at
  module level (global names, and attributes of referenced modules, e.g. ``models.apply``)
  that belongs to the project: the packages ``ntk_attack`` and ``verification`` and the
  top-level package (or module) of the point function itself, so a claim outside the repo is
  covered too;
- the values of the plain constants it references (numbers, strings, tuples, dicts), e.g. a
  step size ``FD_STEP_LINEAR`` or a data seed;
- the ``CACHE_VERSION`` of the module that defines it: bump it to recompute its points after
  a change the walk cannot see (a third-party upgrade, a data file).

Sources are compared after parsing, without docstrings (``ast.dump``): a docstring, a comment
or a formatting change keeps the identity; so does any change to code the point function does
not reach (a figure, a label, a judge, another claim). Why a walk and not declared ``uses=``:
a declaration goes stale silently when a helper starts calling another helper; the walk cannot
forget a callee. It may include more than needed (an attribute name that happens to match a
project function), which only costs a recomputation, never a stale point.
"""
import ast
import functools
import hashlib
import inspect
import sys
import textwrap
import types

PROJECT_PACKAGES = ("ntk_attack", "verification")
_CONSTANTS = (bool, int, float, complex, str, bytes, type(None))


def _root(module_name: str) -> str:
    return (module_name or "").split(".")[0]


def _in_project(obj, roots) -> bool:
    return _root(getattr(obj, "__module__", None) or "") in roots


def _unwrap(obj):
    """The Python function behind ``jax.jit``, ``functools.cache``/``partial`` and ``custom_jvp``."""
    for _ in range(8):
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif hasattr(obj, "__wrapped__"):
            obj = obj.__wrapped__
        elif hasattr(obj, "fun") and callable(obj.fun) and not inspect.isclass(obj):
            obj = obj.fun  # jax.custom_jvp / custom_vjp
        else:
            return obj
    return obj


def _normalised_source(obj) -> str:
    """``ast.dump`` of ``obj``'s source without docstrings, comments or layout."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(obj)))
    except (OSError, TypeError, SyntaxError):
        return repr(getattr(obj, "__qualname__", obj))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def _code_names(code) -> set:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _constant(value) -> bool:
    if isinstance(value, _CONSTANTS):
        return True
    if isinstance(value, (tuple, frozenset)):
        return all(_constant(v) for v in value)
    if isinstance(value, dict):
        return all(_constant(k) and _constant(v) for k, v in value.items())
    return False


def _references(fn, roots) -> tuple:
    """``(project functions and classes, {name: constant})`` that ``fn`` references."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return [], {}
    names = _code_names(code)
    namespace = getattr(fn, "__globals__", {})
    objects, constants = [], {}
    for name in sorted(names):
        if name not in namespace:
            continue
        value = namespace[name]
        if inspect.ismodule(value):
            if _root(value.__name__) in roots:
                members = set(dir(value))  # with names a lazy package resolves (ntk_attack.apply)
                objects += [getattr(value, attr) for attr in sorted(names)
                            if attr in members and _in_project(_unwrap(getattr(value, attr)), roots)]
                constants.update({f"{value.__name__}.{attr}": getattr(value, attr)
                                  for attr in sorted(names)
                                  if attr in members and _constant(getattr(value, attr))})
        elif _in_project(_unwrap(value), roots) and callable(value):
            objects.append(value)
        elif _constant(value):
            constants[name] = value
    return objects, constants


def walk(fn):
    """Yield ``(key, obj, constants)`` for ``fn`` and every project function or class it reaches.

    ``key`` is ``"module.qualname"`` of the unwrapped object, ``constants`` one
    ``{name: constant}`` per member (the function itself, or each method of a class). Each
    object is yielded once, depth first from ``fn``.
    """
    roots = set(PROJECT_PACKAGES) | {_root(fn.__module__)}
    seen, stack = set(), [fn]
    while stack:
        raw = stack.pop()
        stack += [getattr(raw, rule) for rule in ("jvp", "fwd", "bwd")  # custom_jvp / custom_vjp
                  if not inspect.isclass(raw) and callable(getattr(raw, rule, None))]
        obj = _unwrap(raw)
        key = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"
        if key in seen:
            continue
        seen.add(key)
        members = ([m for m in vars(obj).values() if inspect.isfunction(_unwrap(m))]
                   if inspect.isclass(obj) else [obj])
        constants = []
        for member in members:
            objects, found = _references(_unwrap(member), roots)
            stack.extend(objects)
            constants.append(found)
        yield key, obj, constants


def reached(fn) -> frozenset:
    """Keys (``"module.qualname"``) of the project functions and classes ``fn`` reaches."""
    return frozenset(key for key, _, _ in walk(fn))


@functools.cache
def code_identity(fn) -> str:
    """sha256 of the code ``fn`` runs (module docstring) and of its module's ``CACHE_VERSION``."""
    sha = hashlib.sha256()
    module = sys.modules.get(fn.__module__)
    sha.update(repr(getattr(module, "CACHE_VERSION", None)).encode())
    for key, obj, constants in walk(fn):
        sha.update(key.encode())
        sha.update(_normalised_source(obj).encode())
        for found in constants:
            sha.update(repr(sorted(found.items(), key=lambda kv: kv[0])).encode())
    return sha.hexdigest()
