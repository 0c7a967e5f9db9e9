"""The house style that ruff cannot check: short functions with few parameters (issue 15's rule).

A function's length is counted from its ``def`` to its last line, without its docstring (numpydoc
docstrings document; they do not make a function harder to read). Estimator constructors (``__init__``
of a class with ``fit``) are exempt from the parameter count: scikit-learn's convention puts every
hyperparameter there.
"""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "rewardscope"
MAX_LINES = 60
MAX_PARAMETERS = 10


def _functions():
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text())
        estimators = {
            id(item)
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef) and any(getattr(f, "name", "") == "fit" for f in node.body)
            for item in node.body
            if getattr(item, "name", "") == "__init__"
        }
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path.relative_to(SRC.parent), node, id(node) in estimators


def _length(node) -> int:
    lines = node.end_lineno - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
        if isinstance(first.value.value, str):
            lines -= first.end_lineno - first.lineno + 1
    return lines


def _parameters(node) -> int:
    args = node.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
    return len([n for n in names if n not in ("self", "cls")])


def test_the_style_checker_sees_the_package():
    assert sum(1 for _ in _functions()) > 300


def test_no_function_is_longer_than_60_lines():
    long = [
        f"{path}:{node.lineno} {node.name} ({_length(node)} lines)"
        for path, node, _ in _functions()
        if _length(node) > MAX_LINES
    ]
    assert not long, "functions over 60 lines (docstring not counted): " + "; ".join(long)


def test_no_function_takes_more_than_10_parameters():
    many = [
        f"{path}:{node.lineno} {node.name} ({_parameters(node)})"
        for path, node, estimator in _functions()
        if _parameters(node) > MAX_PARAMETERS and not estimator
    ]
    assert not many, "functions with more than 10 parameters: " + "; ".join(many)
