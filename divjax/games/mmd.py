r"""Magnetic mirror descent (MMD) / regularised online mirror descent on the preference game.

.. math::  \pi_{t+1} = \arg\max_\pi\ \eta\big[\pi^\top P\pi_t - \beta\,\mathrm{KL}(\pi\|\pi_{\mathrm{ref}})\big]
           - \mathrm{KL}(\pi\|\pi_t),\qquad
           \ell_{t+1} = \frac{\ell_t + \eta\beta\,\ell_{\mathrm{ref}} + \eta\,P\pi_t}{1+\eta\beta} - \log Z.

One preference query per iteration. Linear convergence with factor 1/(1+ηβ) for η ≲ β (the step must
shrink with β), i.e. a query complexity :math:`O(\beta^{-2}\log 1/\varepsilon)` — against Nash-MP's
:math:`O(\beta^{-1}\log 1/\varepsilon)`.

References:
  S. Sokota, R. D'Orazio, J. Z. Kolter, N. Loizou, M. Lanctot, I. Mitliagkas, N. Brown, C. Kroer,
  *A Unified Approach to Reinforcement Learning, Quantal Response Equilibria, and Two-Player Zero-Sum
  Games*, ICLR 2023, arXiv:2206.05825.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from divjax.games import _solver
from divjax.games._solver import SolverState, Trajectory
from divjax.games.game import PreferenceGame, win_rates

__all__ = ["QUERIES_PER_STEP", "init", "update", "run"]

Array = jax.Array
QUERIES_PER_STEP = 1


def init(game: PreferenceGame, log_pi0: Array | None = None) -> SolverState:
  """The solver state at π_0 (default π_ref)."""
  return _solver.init_state(game, log_pi0)


def update(game: PreferenceGame, state: SolverState, *, step_size: Array) -> SolverState:
  """One MMD step with step size η > 0 (``queries`` + 1)."""
  _solver.concrete_positive("step_size", step_size)
  eb = step_size * game.beta
  logits = (state.log_pi + eb * game.log_ref + step_size * win_rates(game, state.log_pi)) / (1.0 + eb)
  return SolverState(jax.nn.log_softmax(logits), state.step + 1, state.queries + QUERIES_PER_STEP)


def run(game: PreferenceGame, *, step_size: Array, num_steps: int, log_pi0: Array | None = None,
        equilibrium: Array | None = None,
        metrics: tuple[str, ...] = _solver.METRICS) -> tuple[SolverState, Trajectory]:
  """Runs ``num_steps`` MMD steps (``lax.scan``) and records the trajectory.

  Arguments and outputs as :func:`divjax.games.nash_mp.run`, with ``step_size`` = η.

  References:
    S. Sokota et al., arXiv:2206.05825.
  """
  _solver.concrete_positive("step_size", step_size)
  step_size = jnp.asarray(step_size, game.log_ref.dtype)
  return _solver.run_scan(lambda s: update(game, s, step_size=step_size), game, init(game, log_pi0),
                          num_steps=num_steps, equilibrium=equilibrium, metrics=metrics)
