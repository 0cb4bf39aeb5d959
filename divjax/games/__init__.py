r"""Regularised preference games: the exact Nash equilibrium, Nash-MP and its baselines.

* :mod:`~divjax.games.game` — :class:`PreferenceGame` (P, β, π_ref as a pytree) with validation, the
  instance generators ``uniform``, ``skew_sigmoid``, ``bradley_terry``, ``cyclic``, the best response,
  the exploitability gap (= β KL(π‖BR_β(π))), KL and span metrics.
* :mod:`~divjax.games.equilibrium` — :func:`solve_equilibrium` (Nash-MP warm start + Newton).
* Solvers as values: each constructor returns a :class:`GameSolver`, an ``init``/``update`` pair (as
  optax's ``GradientTransformation`` and blackjax's ``SamplingAlgorithm``) —
  :func:`nash_mp.solver <divjax.games.nash_mp.solver>` (2 queries/iteration),
  :func:`egpo.solver <divjax.games.egpo.solver>` (the same map, reparametrised),
  :func:`mmd.solver <divjax.games.mmd.solver>` and :func:`nash_md.solver <divjax.games.nash_md.solver>`
  (1 query/iteration) over :class:`SolverState`, and
  :func:`approximate.solver <divjax.games.approximate.solver>`: each proximal step solved by M
  policy-gradient steps (exact gradient or REINFORCE on sampled Bernoulli preferences) on a flax
  policy with an optax optimiser.
* :func:`run` (:mod:`~divjax.games.trajectory`) — the one driver: ``lax.scan`` over any solver,
  recording a :class:`Trajectory` of KL(π*‖π_k), exploitability, span and preference queries.

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
  >>> solver = games.nash_mp.solver(step_size=0.2)
  >>> final, _ = games.run(solver, game, solver.init(game, jnp.array([1.0, 0.0, 0.0])), num_steps=50,
  ...                      metrics=())
  >>> print(np.round(np.exp(np.asarray(final.log_pi)), 4))
  [0.3333 0.3333 0.3333]
"""

from divjax.games import approximate, egpo, mmd, nash_md, nash_mp, trajectory
from divjax.games._solver import GameSolver, SolverState
from divjax.games.equilibrium import EquilibriumResult, fixed_point_residual, solve_equilibrium
from divjax.games.game import (PreferenceGame, best_response, bradley_terry, cyclic, exploitability,
                               exploitability_closed_form, kl_to, preference_game, skew_sigmoid,
                               span_seminorm, uniform, win_rates)
from divjax.games.trajectory import METRICS, Trajectory, run

# kl_to is a deprecated alias (DeprecationWarning): importable, not in __all__.
__all__ = [
    "PreferenceGame", "preference_game", "uniform", "skew_sigmoid", "bradley_terry", "cyclic",
    "win_rates", "best_response", "exploitability", "exploitability_closed_form", "span_seminorm",
    "EquilibriumResult", "fixed_point_residual", "solve_equilibrium", "GameSolver", "SolverState",
    "METRICS", "Trajectory", "run", "nash_mp", "egpo", "mmd", "nash_md", "approximate",
]
