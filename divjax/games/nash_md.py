r"""Nash mirror descent (Nash-MD) of Munos et al. (2023).

.. math::
   \ell^\mu_t &= (1-\eta\beta)\,\ell_t + \eta\beta\,\ell_{\mathrm{ref}} - \log Z
                 \quad\text{(geometric mixture with the reference)}, \\
   \ell_{t+1} &= \ell^\mu_t + \eta\,P\pi^\mu_t - \log Z.

One preference query per iteration (against the mixture policy), valid for :math:`0 < \eta\beta < 1`.
Last-iterate rate :math:`\mathrm{KL}_{t+1} \le (1-\eta\beta)\mathrm{KL}_t + 2\eta^2`; a constant step
converges to a neighbourhood whose size shrinks with η, so linear convergence needs small steps and
the query complexity grows like β⁻².

The local rate analysis is on :doc:`/theory/nash_mp`.

References:
  Munos, Valko, Calandriello, Azar, Rowland, Guo, Tang, Geist, Mesnard, Michi, Selvi, Girgin,
  Momchev, Bachem, Mankowitz, Precup & Piot, *Nash Learning from Human Feedback*, ICML 2024,
  arXiv:2312.00886.

Examples:
  With a constant step, Nash-MD stops at a KL floor that shrinks like η² (its fixed point is the
  best response to the mixture, not π*_β):

  >>> import jax.numpy as jnp
  >>> from divjax import games
  >>> rps = jnp.array([[0.5, 1.0, 0.0], [0.0, 0.5, 1.0], [1.0, 0.0, 0.5]])
  >>> game = games.preference_game(rps, beta=0.5, ref_logits=jnp.log(jnp.array([0.6, 0.3, 0.1])))
  >>> for eta in (0.5, 0.1):
  ...   _, traj = games.run(games.nash_md.solver(step_size=eta), game, num_steps=300,
  ...                       metrics=("kl",))
  ...   print(f"{float(traj.kl[-1]):.1e}")
  3.9e-04
  1.5e-05
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from divjax import _validate
from divjax.games import _solver, trajectory
from divjax.games._solver import GameSolver
from divjax.games.game import win_rates

__all__ = ["QUERIES_PER_STEP", "solver"]

Array = jax.Array
QUERIES_PER_STEP = 1


@_validate.guarded
def solver(*, step_size: Array) -> GameSolver:
  r"""Nash mirror descent with step size η, as a :class:`~divjax.games.GameSolver`.

  ``update`` mixes π_t geometrically with π_ref, then takes a mirror step against the mixture
  (module docstring): 1 preference query per iteration. ``init(game, log_pi0=None)`` starts at π_ref
  or at the ``[n]`` logits ``log_pi0``.

  Args:
    step_size: η > 0, a scalar (may be traced); ``update`` also requires ηβ < 1 for the game it is
      given (a named error when both are concrete, NaN iterates when traced).

  Returns:
    The solver; run it with :func:`divjax.games.run`.

  References:
    Munos et al., arXiv:2312.00886.

  Examples:
    From the uniform π_ref the mixture is uniform too, and in this 2-action game its win rates
    differ by 0.3, so with η = ½ one step makes the logit gap η·0.3 = 0.15; 60 steps reach the
    equilibrium (σ(0.3/β), 1 − σ(0.3/β)):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> nash_md = games.nash_md.solver(step_size=0.5)
    >>> print(np.round(np.exp(np.asarray(nash_md.update(game, nash_md.init(game)).log_pi)), 4))
    [0.5374 0.4626]
    >>> final, _ = games.run(nash_md, game, num_steps=60, metrics=())
    >>> print(np.round(np.exp(np.asarray(final.log_pi)), 4), int(final.queries))
    [0.5744 0.4256] 60
  """
  step_size = _validate.positive("step_size", step_size)

  def update(game, state, *, key=None):
    del key  # deterministic
    eta = jnp.asarray(_solver.check_step_below_inverse_beta(game, step_size), game.log_ref.dtype)
    eb = eta * game.beta
    log_mix = jax.nn.log_softmax((1.0 - eb) * state.log_pi + eb * game.log_ref)
    log_new = jax.nn.log_softmax(log_mix + eta * win_rates(game, log_mix))
    return _solver.advance(state, log_new, QUERIES_PER_STEP)

  return _solver.tabular_solver(update, QUERIES_PER_STEP)


init, update, run = trajectory.deprecated_solver_functions("nash_md", solver)
