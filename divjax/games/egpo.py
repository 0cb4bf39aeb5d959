r"""EGPO / extragradient policy optimisation (predictive update, optimistic MWU with regularisation).

With step :math:`\eta_E` and opponent :math:`\pi_{\mathrm{opp}} = \pi_k` (extrapolation), then
:math:`\pi_{k+1/2}` (update), both from the anchor π_k:

.. math::  \ell_{\mathrm{new}} = \ell_k + \eta_E\big(\beta(\ell_{\mathrm{ref}} - \ell_k) + P\pi_{\mathrm{opp}}\big) - \log Z,

2 preference queries per iteration, valid for :math:`0 < \eta_E\beta < 1`. This is *the same map* as
Nash-MP with normalised step :math:`\eta = \eta_E\beta/(1-\eta_E\beta)` (equivalently
:math:`\eta_E = \eta/(\beta(1+\eta))`; the Nash-MP theory step η = 2β is
:math:`\eta_E = 2/(1+2\beta)`): the two methods differ only in the step sizes their analyses allow.

References:
  R. Zhou, M. Fazel, S. S. Du, *Extragradient Preference Optimization (EGPO)*, arXiv:2503.08942 (2025).
  S. Cen, Y. Wei, Y. Chi, *Fast policy extragradient methods for competitive games with entropy
  regularization*, NeurIPS 2021, arXiv:2105.15186.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from divjax.games import _solver
from divjax.games._solver import SolverState, Trajectory
from divjax.games.game import PreferenceGame, win_rates

__all__ = ["QUERIES_PER_STEP", "init", "update", "run", "step_size_from_nash_mp"]

Array = jax.Array
QUERIES_PER_STEP = 2


def step_size_from_nash_mp(eta, beta):
  r""":math:`\eta_E = \eta/(\beta(1+\eta))`: the EGPO step giving the same iterates as Nash-MP(η)."""
  return eta / (beta * (1.0 + eta))


def init(game: PreferenceGame, log_pi0: Array | None = None) -> SolverState:
  """The solver state at π_0 (default π_ref)."""
  return _solver.init_state(game, log_pi0)


def _step(game: PreferenceGame, log_anchor: Array, win: Array, eta_e: Array) -> Array:
  return jax.nn.log_softmax(log_anchor + eta_e * (game.beta * (game.log_ref - log_anchor) + win))


def update(game: PreferenceGame, state: SolverState, *, step_size: Array) -> SolverState:
  r"""One EGPO iteration (extrapolation then update, anchor π_k).

  Args:
    game: the game.
    state: current state.
    step_size: :math:`\eta_E` with :math:`0 < \eta_E\beta < 1`.

  Returns:
    The state at π_{k+1}, ``queries`` + 2.
  """
  _solver.check_step_below_inverse_beta(game, step_size)
  log_half = _step(game, state.log_pi, win_rates(game, state.log_pi), step_size)
  log_new = _step(game, state.log_pi, win_rates(game, log_half), step_size)
  return SolverState(log_new, state.step + 1, state.queries + QUERIES_PER_STEP)


def run(game: PreferenceGame, *, step_size: Array, num_steps: int, log_pi0: Array | None = None,
        equilibrium: Array | None = None,
        metrics: tuple[str, ...] = _solver.METRICS) -> tuple[SolverState, Trajectory]:
  """Runs ``num_steps`` EGPO iterations (``lax.scan``) and records the trajectory.

  Arguments and outputs as :func:`divjax.games.nash_mp.run`, with ``step_size`` = η_E.

  References:
    R. Zhou, M. Fazel, S. S. Du, arXiv:2503.08942.
  """
  _solver.check_step_below_inverse_beta(game, step_size)
  step_size = jnp.asarray(step_size, game.log_ref.dtype)
  return _solver.run_scan(lambda s: update(game, s, step_size=step_size), game, init(game, log_pi0),
                          num_steps=num_steps, equilibrium=equilibrium, metrics=metrics)
