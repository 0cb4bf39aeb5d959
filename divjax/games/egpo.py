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
  >>> a, _ = games.nash_mp.run(game, step_size=0.2, num_steps=10, metrics=())
  >>> b, _ = games.egpo.run(game, step_size=games.egpo.step_size_from_nash_mp(0.2, 0.1),
  ...                       num_steps=10, metrics=())
  >>> print(bool(jnp.max(jnp.abs(a.log_pi - b.log_pi)) < 1e-5))
  True
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from divjax import _validate
from divjax.games import _solver
from divjax.games._solver import SolverState, Trajectory
from divjax.games.game import PreferenceGame, win_rates

__all__ = ["QUERIES_PER_STEP", "init", "update", "run", "step_size_from_nash_mp"]

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


@_validate.guarded
def init(game: PreferenceGame, log_pi0: Array | None = None) -> SolverState:
  """The solver state at π_0 (default π_ref).

  Args:
    game: the game.
    log_pi0: optional ``[n]`` finite logits of π_0.

  Returns:
    A :class:`~divjax.games.SolverState` with ``step = queries = 0``.

  Examples:
    >>> import jax.numpy as jnp
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> print(int(games.egpo.init(game).queries))
    0
  """
  return _solver.init_state(game, log_pi0)


def _step(game: PreferenceGame, log_anchor: Array, win: Array, eta_e: Array) -> Array:
  return jax.nn.log_softmax(log_anchor + eta_e * (game.beta * (game.log_ref - log_anchor) + win))


@_validate.guarded
def update(game: PreferenceGame, state: SolverState, *, step_size: Array) -> SolverState:
  r"""One EGPO iteration (extrapolation then update, anchor π_k).

  Args:
    game: the game.
    state: current state.
    step_size: :math:`\eta_E` with :math:`0 < \eta_E\beta < 1`.

  Returns:
    The state at π_{k+1}, ``queries`` + 2.

  Examples:
    With η_E = η/(β(1+η)) one EGPO step equals one Nash-MP step at η = 2 (compare
    :func:`divjax.games.nash_mp.update`: π_1 = (σ(0.2), 1 − σ(0.2))):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> eta_e = games.egpo.step_size_from_nash_mp(2.0, 1.0)
    >>> state = games.egpo.update(game, games.egpo.init(game), step_size=eta_e)
    >>> print(np.round(np.exp(np.asarray(state.log_pi)), 4), int(state.queries))
    [0.5498 0.4502] 2
  """
  step_size = _solver.check_step_below_inverse_beta(game, step_size)
  log_half = _step(game, state.log_pi, win_rates(game, state.log_pi), step_size)
  log_new = _step(game, state.log_pi, win_rates(game, log_half), step_size)
  return SolverState(log_new, state.step + 1, state.queries + QUERIES_PER_STEP)


@_validate.guarded
def run(game: PreferenceGame, *, step_size: Array, num_steps: int, log_pi0: Array | None = None,
        equilibrium: Array | None = None,
        metrics: tuple[str, ...] = _solver.METRICS) -> tuple[SolverState, Trajectory]:
  """Runs ``num_steps`` EGPO iterations (``lax.scan``) and records the trajectory.

  Arguments and outputs as :func:`divjax.games.nash_mp.run`, with ``step_size`` = η_E.

  References:
    Zhou, Fazel & Du, arXiv:2503.08942.

  Examples:
    The equilibrium of this 2-action game is (σ(0.3/β), 1 − σ(0.3/β)):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> final, _ = games.egpo.run(game, step_size=0.5, num_steps=40, metrics=())
    >>> print(np.round(np.exp(np.asarray(final.log_pi)), 4))
    [0.5744 0.4256]
  """
  step_size = _solver.check_step_below_inverse_beta(game, step_size)
  step_size = jnp.asarray(step_size, game.log_ref.dtype)
  return _solver.run_scan(lambda s: update(game, s, step_size=step_size), game, init(game, log_pi0),
                          num_steps=num_steps, equilibrium=equilibrium, metrics=metrics)
