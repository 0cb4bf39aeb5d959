"""Deprecated names: aliases of renamed functions and renamed keyword arguments (private).

A renamed public name keeps working for one minor version (see CHANGELOG.md) and emits a
``DeprecationWarning`` whose message names the replacement. Aliases are module attributes but are kept
out of ``__all__``: they are not star-exported, documented or fuzzed on their own (the function they
forward to is).
"""

from __future__ import annotations

import functools
import sys
import warnings
from typing import Any, Callable


def warn(message: str, new: str | None = None) -> None:
  """A ``DeprecationWarning`` attributed to the first caller outside divjax (the user's line).

  ``warn(message)`` warns with ``message``; ``warn(old, new)`` with "``old`` is deprecated; use
  ``new`` instead.".

  Python shows a ``DeprecationWarning`` by default only when it is attributed to ``__main__``, so it
  must point past divjax's own wrappers (``guarded``, keyword maps), however many there are.
  """
  if new is not None:
    message = f"{message} is deprecated; use {new} instead."
  frame, level = sys._getframe(0), 1
  while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "divjax":
    frame, level = frame.f_back, level + 1
  warnings.warn(message, DeprecationWarning, stacklevel=level)


def alias(fn: Callable[..., Any], old: str, new: str, *, note: str = "") -> Callable[..., Any]:
  """A function named ``old`` that warns and then calls ``fn`` (public name ``new``) unchanged."""
  message = f"{old} is deprecated; use {new}{' (' + note + ')' if note else ''}."

  @functools.wraps(fn)
  def deprecated(*args: Any, **kwargs: Any) -> Any:
    warn(message)
    return fn(*args, **kwargs)

  deprecated.__name__ = deprecated.__qualname__ = old.rsplit(".", 1)[-1]
  deprecated.__doc__ = f"Deprecated alias of :func:`{new.split('(')[0]}`: {message}"
  return deprecated


def renamed_keywords(**renames: str | tuple[str, str]
                     ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
  """Accepts old keyword names, mapped to new ones with a ``DeprecationWarning``.

  ``renamed_keywords(order="alpha")`` maps ``order=`` to ``alpha=``; a value ``(new, note)`` adds
  ``note`` to the warning (e.g. to say what the old name meant). Passing both names is a
  ``TypeError``.
  """
  def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
    table = {old: (new, "") if isinstance(new, str) else new for old, new in renames.items()}

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
      for old in table.keys() & kwargs.keys():
        new, note = table[old]
        if new in kwargs:
          raise TypeError(f"{fn.__name__}: pass {new}= only ({old}= is its deprecated name).")
        warn(f"{fn.__name__}({old}=...) is deprecated; use {new}=... instead."
             f"{' ' + note if note else ''}")
        kwargs[new] = kwargs.pop(old)
      return fn(*args, **kwargs)

    return wrapper
  return decorate
