"""The shared vocabulary of divjax: f-divergence generators and divergences.

Submodules (all re-exported here):

* :mod:`~divjax.divergences.generators` — f-divergence generators as data (f, f′, (f′)⁻¹, f*, h).
* :mod:`~divjax.divergences.discrete` — divergences between discrete distributions from
  probabilities or logits, with ``axis`` and ``where`` like ``optax.losses``.
"""

from divjax.divergences import discrete, generators
from divjax.divergences.discrete import *  # noqa: F401,F403
from divjax.divergences.generators import *  # noqa: F401,F403

__all__ = [*generators.__all__, *discrete.__all__]
