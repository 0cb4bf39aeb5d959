r"""Nash mirror descent (Nash-MD) of Munos et al. (2023).

.. math::
   \ell^\mu_t &= (1-\eta\beta)\,\ell_t + \eta\beta\,\ell_{\mathrm{ref}} - \log Z
                 \quad\text{(geometric mixture with the reference)}, \\
   \ell_{t+1} &= \ell^\mu_t + \eta\,P\pi^\mu_t - \log Z.

One preference query per iteration (against the mixture policy), valid for :math:`0 < \eta\beta < 1`.
Last-iterate rate :math:`\mathrm{KL}_{t+1} \le (1-\eta\beta)\mathrm{KL}_t + 2\eta^2`; a constant step
converges to a neighbourhood whose size shrinks with η, so linear convergence needs small steps and
the query complexity grows like β⁻².

References:
  R. Munos, M. Valko, D. Calandriello, M. G. Azar, M. Rowland, Z. D. Guo, Y. Tang, M. Geist, T. Mesnard,
  A. Michi, M. Selvi, S. Girgin, N. Momchev, O. Bachem, D. J. Mankowitz, D. Precup, B. Piot,
  *Nash Learning from Human Feedback*, ICML 2024, arXiv:2312.00886.
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
  """One Nash-MD step with step size η, 0 < ηβ < 1 (``queries`` + 1)."""
  _solver.check_step_below_inverse_beta(game, step_size)
  eb = step_size * game.beta
  log_mix = jax.nn.log_softmax((1.0 - eb) * state.log_pi + eb * game.log_ref)
  log_new = jax.nn.log_softmax(log_mix + step_size * win_rates(game, log_mix))
  return SolverState(log_new, state.step + 1, state.queries + QUERIES_PER_STEP)


def run(game: PreferenceGame, *, step_size: Array, num_steps: int, log_pi0: Array | None = None,
        equilibrium: Array | None = None,
        metrics: tuple[str, ...] = _solver.METRICS) -> tuple[SolverState, Trajectory]:
  """Runs ``num_steps`` Nash-MD steps (``lax.scan``) and records the trajectory.

  Arguments and outputs as :func:`divjax.games.nash_mp.run`, with ``step_size`` = η (ηβ < 1).

  References:
    R. Munos et al., arXiv:2312.00886.
  """
  _solver.check_step_below_inverse_beta(game, step_size)
  step_size = jnp.asarray(step_size, game.log_ref.dtype)
  return _solver.run_scan(lambda s: update(game, s, step_size=step_size), game, init(game, log_pi0),
                          num_steps=num_steps, equilibrium=equilibrium, metrics=metrics)
