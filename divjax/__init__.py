"""divjax: divergence theory in JAX.

Pure, ``jit``/``vmap``/``grad``-able estimators and solvers for divergence theory, with experiment
modules (in the source checkout, ``python -m experiments``) that reproduce published scaling and
convergence results.

Every area is reachable from the top-level package and is imported on first use, so
``import divjax`` itself is cheap (it does not import JAX):

* :mod:`divjax.divergences` — f-divergence generators, divergences between discrete distributions,
  Gaussian closed forms and sample-based estimators: the shared vocabulary;
* :mod:`divjax.expfam` — exponential families, information projection, MLE risk to O(n⁻²);
* :mod:`divjax.kde` — high-dimensional kernel density estimation and its theory;
* :mod:`divjax.games` — regularised preference games and Nash mirror prox;
* :mod:`divjax.alignment` — KL-regularised alignment: tilted policies, best-of-N, f-DPO;
* :mod:`divjax.ib` — information-bottleneck quantities and bounds;
* :mod:`divjax.ot` — entropic optimal transport on ott-jax and Sinkhorn distillation;
* :mod:`divjax.plotting` — the figure style the experiments share;
* :mod:`divjax.checks` — checked mode: the named argument errors inside ``jit`` (checkify).

Examples:
  >>> import divjax
  >>> import jax.numpy as jnp
  >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
  >>> print(f"{float(divjax.divergences.kl_divergence(p, q)):.4f}")
  0.5108
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_AREAS = ("alignment", "checks", "divergences", "expfam", "games", "ib", "kde", "ot", "plotting")

__all__ = [*_AREAS, "__version__"]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
  from divjax import (alignment, checks, divergences, expfam, games, ib, kde, ot,  # noqa: F401
                      plotting)


def __getattr__(name: str) -> Any:
  """Imports an area (``divjax.kde``, …) on first access (PEP 562)."""
  if name in _AREAS:
    module = importlib.import_module(f"divjax.{name}")
    globals()[name] = module
    return module
  raise AttributeError(f"module 'divjax' has no attribute {name!r}")


def __dir__() -> list[str]:
  return sorted({*globals(), *_AREAS})
