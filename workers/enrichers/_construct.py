"""Building output models without pydantic's per-call overhead.

The enrichers assemble ``Entity``/``Quote``/``Quantity`` objects from values they have already
checked, so they used ``model_construct`` (no validation). Even that walks every field through
``FieldInfo`` on each call, ~10 % of a post's time. :func:`constructor` returns a positional
builder that leaves exactly what ``model_construct`` with every field given leaves (same
``__dict__`` in field order, same fields-set, no extra, no private), checked by
``tests/enrichers/test_construct.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def constructor(cls: type[M]) -> Callable[..., M]:
    """``build(*values)`` → ``cls.model_construct(**dict(zip(fields, values)))``, every field given, in field order."""
    fields = tuple(cls.model_fields)
    plain = (cls.__pydantic_post_init__ is None and not cls.__pydantic_root_model__
             and cls.model_config.get("extra") != "allow" and not cls.__private_attributes__)
    if not plain:  # a model this shortcut does not cover: stay with pydantic's own way
        return lambda *values: cls.model_construct(**dict(zip(fields, values, strict=True)))
    new = cls.__new__
    set_attr = object.__setattr__
    field_set = frozenset(fields)

    def build(*values: Any) -> M:
        model = new(cls)
        set_attr(model, "__dict__", dict(zip(fields, values, strict=True)))
        set_attr(model, "__pydantic_fields_set__", set(field_set))
        set_attr(model, "__pydantic_extra__", None)
        set_attr(model, "__pydantic_private__", None)
        return model

    build.__doc__ = f"{cls.__name__}({', '.join(fields)}) without validation"
    return build
