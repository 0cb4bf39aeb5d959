r"""EGPO / extragradient policy optimisation (predictive update, optimistic MWU with regularisation).

With step :math:`\eta_E` and opponent :math:`\pi_{\mathrm{opp}} = \pi_k` (extrapolation), then
:math:`\pi_{k+1/2}` (update), both from the anchor π_k:

.. math::  \ell_{\mathrm{new}} = \ell_k + \eta_E\big(\beta(\ell_{\mathrm{ref}} - \ell_k) + P\pi_{\mathrm{opp}}\big) - \log Z,

2 preference queries per iteration, valid for :math:`0 < \eta_E\beta < 1`. This is *the same map* as
Nash-MP with normalised step :math:`\eta = \eta_E\beta/(1-\eta_E\beta)` (equivalently
:math:`\eta_E = \eta/(\beta(1+\eta))`; the Nash-MP theory step η = 2β is
:math:`\eta_E = 2/(1+2\beta)`): the two methods differ only in the step sizes their analyses allow
(derivation on :doc:`/theory/nash_mp`).

References:
  * Zhou, Fazel & Du, *Extragradient Preference Optimization (EGPO)*, arXiv:2503.08942 (2025).
  * Cen, Wei & Chi, *Fast policy extragradient methods for competitive games with entropy
    regularization*, NeurIPS 2021, arXiv:2105.15186.

Examples:
  EGPO at η_E = η/(β(1+η)) reproduces the Nash-MP iterates at η:

  >>> import jax
  >>> import jax.numpy as jnp
  >>> from divjax import games
  >>> game = games.cyclic(jax.random.key(0), 5, beta=0.1)
  >>> a, _ = games.run(games.nash_mp.solver(step_size=0.2), game, num_steps=10, metrics=())
  >>> eta_e = games.egpo.step_size_from_nash_mp(0.2, 0.1)
  >>> b, _ = games.run(games.egpo.solver(step_size=eta_e), game, num_steps=10, metrics=())
  >>> print(bool(jnp.max(jnp.abs(a.log_pi - b.log_pi)) < 1e-5))
  True
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from divjax import _validate
from divjax.games import _solver, trajectory
from divjax.games._solver import GameSolver
from divjax.games.game import PreferenceGame, win_rates

__all__ = ["QUERIES_PER_STEP", "solver", "step_size_from_nash_mp"]

Array = jax.Array
QUERIES_PER_STEP = 2


@_validate.guarded
def step_size_from_nash_mp(eta, beta):
  r"""The EGPO step η_E = η/(β(1+η)) that gives the same iterates as Nash-MP with step η.

  Args:
    eta: the normalised Nash-MP step η > 0.
    beta: β > 0.

  Returns:
    :math:`\eta_E = \eta/(\beta(1+\eta))`.

  Examples:
    The Nash-MP theory step η = 2β corresponds to η_E = 2/(1+2β), here 2/1.2:

    >>> from divjax import games
    >>> print(f"{games.egpo.step_size_from_nash_mp(0.2, 0.1):.4f}")
    1.6667
  """
  eta, beta = _validate.positive("eta", eta), _validate.positive("beta", beta)
  return eta / (beta * (1.0 + eta))


def _step(game: PreferenceGame, log_anchor: Array, win: Array, eta_e: Array) -> Array:
  return jax.nn.log_softmax(log_anchor + eta_e * (game.beta * (game.log_ref - log_anchor) + win))


@_validate.guarded
def solver(*, step_size: Array) -> GameSolver:
  r"""EGPO with step :math:`\eta_E`, as a :class:`~divjax.games.GameSolver`.

  ``update`` takes the extrapolation step, then the update step, both from the anchor π_k:
  2 preference queries per iteration. ``init(game, log_pi0=None)`` starts at π_ref or at ``log_pi0``.

  Args:
    step_size: :math:`\eta_E > 0`; ``update`` also requires :math:`\eta_E\beta < 1` for the game it
      is given (a named error when both are concrete, NaN iterates when traced).

  Returns:
    The solver; run it with :func:`divjax.games.run`.

  References:
    Zhou, Fazel & Du, arXiv:2503.08942.

  Examples:
    With η_E = η/(β(1+η)) one EGPO step equals one Nash-MP step at η = 2 (π_1 = (σ(0.2), 1 − σ(0.2)));
    40 steps at η_E = ½ reach the equilibrium (σ(0.3/β), 1 − σ(0.3/β)):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> egpo = games.egpo.solver(step_size=games.egpo.step_size_from_nash_mp(2.0, 1.0))
    >>> print(np.round(np.exp(np.asarray(egpo.update(game, egpo.init(game)).log_pi)), 4))
    [0.5498 0.4502]
    >>> final, _ = games.run(games.egpo.solver(step_size=0.5), game, num_steps=40, metrics=())
    >>> print(np.round(np.exp(np.asarray(final.log_pi)), 4))
    [0.5744 0.4256]
  """
  step_size = _validate.positive("step_size", step_size)

  def update(game, state, *, key=None):
    del key  # deterministic
    eta_e = jnp.asarray(_solver.check_step_below_inverse_beta(game, step_size), game.log_ref.dtype)
    log_half = _step(game, state.log_pi, win_rates(game, state.log_pi), eta_e)
    log_new = _step(game, state.log_pi, win_rates(game, log_half), eta_e)
    return _solver.advance(state, log_new, QUERIES_PER_STEP)

  return _solver.tabular_solver(update, QUERIES_PER_STEP)


init, update, run = trajectory.deprecated_solver_functions("egpo", solver)
