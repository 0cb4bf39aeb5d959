"""Deprecated aliases of renamed public names (private).

A renamed public name keeps working for one minor version as a thin wrapper that emits a
``DeprecationWarning`` naming its replacement (see CHANGELOG.md).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable


def warn(old: str, new: str) -> None:
  """Emits the ``DeprecationWarning`` of ``old``, pointing at ``new`` (at the caller's caller)."""
  warnings.warn(f"{old} is deprecated; use {new} instead.", DeprecationWarning, stacklevel=3)


def alias(fn: Callable[..., Any], old: str, new: str) -> Callable[..., Any]:
  """``fn`` under its old name ``old``: the same call, with a ``DeprecationWarning`` naming ``new``."""
  @functools.wraps(fn)
  def deprecated(*args: Any, **kwargs: Any) -> Any:
    warn(old, new)
    return fn(*args, **kwargs)

  deprecated.__doc__ = f"Deprecated alias of :func:`{new.split('(')[0]}`: use ``{new}``."
  deprecated.__name__ = deprecated.__qualname__ = old.rsplit(".", 1)[-1]
  return deprecated
