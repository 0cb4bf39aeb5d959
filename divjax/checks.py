r"""Checked mode: divjax's named argument errors inside ``jit``, through ``jax.experimental.checkify``.

Every public divjax function checks its arguments. How a failed check shows depends on whether the
values can be inspected:

* **concrete values** (an eager call, or arguments ``jit`` treats as static): a ``ValueError`` or
  ``TypeError`` whose message names the argument, e.g. ``bandwidth must be positive, got min -1.0``;
* **traced values** (inside ``jit``, ``vmap``, ``grad``, ``lax.scan``, …): nothing can raise while
  tracing, so the argument is replaced by NaN and the result is NaN — never a plausible number.
  Shape and dtype errors are static and still raise;
* **checked mode** (this module): the same checks run on the traced values as
  ``jax.experimental.checkify`` checks, so a compiled program reports *which* argument was bad.

:func:`checkify` gives the functional form (an ``Error`` value next to the output, composable with
``jit``, ``vmap`` and ``grad``); :func:`checked` wraps it in ``jit`` and raises. Both run the checks
of every divjax function called by ``fn``, however deeply nested inside the user's own code.

Checked mode costs a few elementwise reductions per checked argument and an error value threaded
through the program; leave it off in production sweeps and switch it on to find where a NaN came
from.

References:
  JAX documentation, "The checkify transformation",
  https://docs.jax.dev/en/latest/debugging/checkify_guide.html.

Examples:
  >>> import jax
  >>> import jax.numpy as jnp
  >>> from divjax import checks, divergences as dv
  >>> p, bad = jnp.array([0.5, 0.5]), jnp.array([0.5, 0.6])
  >>> float(jax.jit(dv.kl_divergence)(bad, p))  # traced: NaN, not a plausible number
  nan
  >>> err, value = jax.jit(checks.checkify(dv.kl_divergence))(bad, p)
  >>> print(err.get())  # doctest: +ELLIPSIS
  p must be a probability vector along axis -1: finite, >= 0 and summing to 1 (within 0.0001). ...
  >>> checks.checked(dv.kl_divergence)(bad, p)  # doctest: +ELLIPSIS
  Traceback (most recent call last):
  ...
  jax._src.checkify.JaxRuntimeError: p must be a probability vector along axis -1: ...
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import jax
from jax.experimental import checkify as _checkify

from divjax import _validate

__all__ = ["checkify", "checked"]


def checkify(fn: Callable[..., Any],
             errors: frozenset = _checkify.user_checks) -> Callable[..., tuple[Any, Any]]:
  """``fn`` with divjax's argument checks as checkify checks: ``f(*args) -> (Error, output)``.

  Every value check of a divjax function that ``fn`` calls — on any argument that is traced —
  becomes ``jax.experimental.checkify.check(ok, message)`` with the same named message as the eager
  error. The output is what ``fn`` returns (NaN where a check failed). Compose freely:
  ``jax.jit(checks.checkify(f))``, ``jax.vmap(checks.checkify(f))`` (the error then names the mapped
  index).

  Args:
    fn: any function that calls divjax functions.
    errors: the checkify error set; the default ``checkify.user_checks`` reports divjax's checks.
      Add e.g. ``checkify.nan_checks`` to also locate the first primitive that produced a NaN.

  Returns:
    A function with ``fn``'s signature returning ``(err, out)``; ``err.get()`` is the first failed
    check's message (or None) and ``err.throw()`` raises it as a ``JaxRuntimeError`` (a
    ``ValueError``).

  References:
    JAX documentation, "The checkify transformation".
  """
  if not callable(fn):
    raise TypeError(f"fn must be callable, got {type(fn).__name__}.")

  @functools.wraps(fn)
  def traced(*args: Any, **kwargs: Any) -> Any:
    with _validate.checking("checkify"):
      return fn(*args, **kwargs)

  return _checkify.checkify(traced, errors=errors)


def checked(fn: Callable[..., Any], *, static_argnums: int | Sequence[int] = (),
            static_argnames: str | Sequence[str] = ()) -> Callable[..., Any]:
  """``jax.jit(fn)`` that raises divjax's named argument errors instead of returning NaN.

  Equivalent to running ``jax.jit(checkify(fn))`` and calling ``err.throw()``: a failed check
  raises ``jax.experimental.checkify.JaxRuntimeError``, a subclass of ``ValueError``, whose message
  names the argument (``bandwidth must be positive and finite.``). Use it while developing, and
  plain ``jax.jit`` for speed once the inputs are known good.

  Args:
    fn: any function that calls divjax functions.
    static_argnums, static_argnames: as in ``jax.jit`` (e.g. ``static_argnames="logits"``).

  Returns:
    A compiled function with ``fn``'s signature and output.

  Raises:
    ValueError: (``JaxRuntimeError``) when a check of a traced argument fails.

  References:
    JAX documentation, "The checkify transformation".
  """
  compiled = jax.jit(checkify(fn), static_argnums=static_argnums, static_argnames=static_argnames)

  @functools.wraps(fn)
  def wrapper(*args: Any, **kwargs: Any) -> Any:
    err, out = compiled(*args, **kwargs)
    err.throw()
    return out

  return wrapper
