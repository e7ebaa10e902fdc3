"""Stand-ins for the package's classes that fail when the class changes under them.

`stand_in(Observer, situation=lambda: "...")` is an autospec'd instance of the real class: calling a
method the class does not have, or with arguments its signature refuses, fails; so does giving it an
attribute the class does not define (a method, a property, a dataclass field or an attribute its code
assigns to `self`). A SimpleNamespace carries whatever it is given, which is how a renamed method once
broke `alertdrill gameday` while every test passed.
"""
from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import textwrap
from typing import Any
from unittest import mock


class DriftedStandIn(AssertionError):
    """A stand-in names what its class no longer has."""


@functools.cache
def interface(cls: type) -> frozenset[str]:
    """Every attribute an instance of `cls` has: class attributes (methods, properties), dataclass fields,
    annotations, and the names its methods assign to `self` (attributes set in __init__)."""
    names: set[str] = set(dir(cls))
    for klass in cls.__mro__:
        if klass is object:
            continue
        names |= set(getattr(klass, "__annotations__", {}))
        if dataclasses.is_dataclass(klass):
            names |= {f.name for f in dataclasses.fields(klass)}
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):  # a builtin or a class without source: its dir() is its interface
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                    and isinstance(node.value, ast.Name) and node.value.id == "self"):
                names.add(node.attr)
    return frozenset(names)


def _is_method(cls: type, name: str) -> bool:
    attr = inspect.getattr_static(cls, name, None)
    return inspect.isfunction(attr) or isinstance(attr, (staticmethod, classmethod))


def stand_in(cls: type, /, **attributes: Any) -> Any:
    """An autospec'd instance of `cls` with `attributes` set. A method given a plain function keeps the
    method's signature check and runs the function; any other value is set as the attribute."""
    unknown = sorted(set(attributes) - interface(cls))
    if unknown:
        raise DriftedStandIn(f"{cls.__module__}.{cls.__qualname__} has no attribute {', '.join(unknown)}: the "
                             f"stand-in has drifted from the class (rename it there, or here)")
    double = mock.create_autospec(cls, instance=True)
    for name, value in attributes.items():
        if _is_method(cls, name) and callable(value) and not isinstance(value, mock.Base):
            getattr(double, name).side_effect = value
        else:
            setattr(double, name, value)
    return double
