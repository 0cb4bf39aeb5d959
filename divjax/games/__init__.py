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

Every function works on one game; ``vmap`` over β, step sizes, seeds and stacked games.

References:
  D. Tiapkin et al., *Accelerating Nash Learning from Human Feedback via Mirror Prox*,
  arXiv:2505.19731 (v1).
  R. Munos et al., *Nash Learning from Human Feedback*, arXiv:2312.00886.
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
