r"""Regularised preference games: the exact Nash equilibrium, Nash-MP and its baselines.

* :mod:`~divjax.games.game` — :class:`PreferenceGame` (P, β, π_ref as a pytree) with validation, the
  instance generators ``uniform``, ``skew_sigmoid``, ``bradley_terry``, ``cyclic``, the best response,
  the exploitability gap (= β KL(π‖BR_β(π))), KL and span metrics.
* :mod:`~divjax.games.equilibrium` — :func:`solve_equilibrium` (Nash-MP warm start + Newton).
* Solvers, each an ``init``/``update`` pair over :class:`SolverState` plus ``run`` (``lax.scan``,
  recording a :class:`Trajectory` of KL(π*‖π_k), exploitability, span and preference queries):
  :mod:`~divjax.games.nash_mp` (2 queries/iteration), :mod:`~divjax.games.egpo` (the same map,
  reparametrised), :mod:`~divjax.games.mmd` and :mod:`~divjax.games.nash_md` (1 query/iteration).
* :mod:`~divjax.games.approximate` — approximate Nash-MP: each proximal step solved by M
  policy-gradient steps (exact gradient or REINFORCE on sampled Bernoulli preferences) on a flax
  policy with an optax optimiser.

Every function works on one game; ``vmap`` over β, step sizes, seeds and stacked games. The
theory behind the solvers and the metrics, and how each statement is checked, is on
:doc:`/theory/nash_mp`.

References:
  * Tiapkin et al., *Accelerating Nash Learning from Human Feedback via Mirror Prox*,
    arXiv:2505.19731 (v1).
  * Munos et al., *Nash Learning from Human Feedback*, arXiv:2312.00886.

Examples:
  Rock–paper–scissors with uniform π_ref: by symmetry the regularised equilibrium is uniform, and
  Nash-MP at the theory step η = 2β reaches it:

  >>> import jax
  >>> import jax.numpy as jnp
  >>> import numpy as np
  >>> from divjax import games
  >>> game = games.cyclic(jax.random.key(0), 3, beta=0.1, reference="uniform")
  >>> final, _ = games.nash_mp.run(game, step_size=0.2, num_steps=50,
  ...                              log_pi0=jnp.array([1.0, 0.0, 0.0]), metrics=())
  >>> print(np.round(np.exp(np.asarray(final.log_pi)), 4))
  [0.3333 0.3333 0.3333]
"""

from divjax.games import approximate, egpo, mmd, nash_md, nash_mp
from divjax.games._solver import METRICS, SolverState, Trajectory
from divjax.games.equilibrium import EquilibriumResult, fixed_point_residual, solve_equilibrium
from divjax.games.game import (PreferenceGame, best_response, bradley_terry, cyclic, exploitability,
                               exploitability_closed_form, kl_to, preference_game, skew_sigmoid,
                               span_seminorm, uniform, win_rates)

__all__ = [
    "PreferenceGame", "preference_game", "uniform", "skew_sigmoid", "bradley_terry", "cyclic",
    "win_rates", "best_response", "exploitability", "exploitability_closed_form", "kl_to",
    "span_seminorm", "EquilibriumResult", "fixed_point_residual", "solve_equilibrium", "METRICS",
    "SolverState", "Trajectory", "nash_mp", "egpo", "mmd", "nash_md", "approximate",
]
