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
  ...   _, traj = games.nash_md.run(game, step_size=eta, num_steps=300, metrics=("kl",))
  ...   print(f"{float(traj.kl[-1]):.1e}")
  3.9e-04
  1.5e-05
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from divjax import _validate
from divjax.games import _solver
from divjax.games._solver import SolverState, Trajectory
from divjax.games.game import PreferenceGame, win_rates

__all__ = ["QUERIES_PER_STEP", "init", "update", "run"]

Array = jax.Array
QUERIES_PER_STEP = 1


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
    >>> print(int(games.nash_md.init(game).step))
    0
  """
  return _solver.init_state(game, log_pi0)


@_validate.guarded
def update(game: PreferenceGame, state: SolverState, *, step_size: Array) -> SolverState:
  """One Nash-MD step with step size η, 0 < ηβ < 1 (``queries`` + 1).

  Args:
    game: the game.
    state: current state (log π_t).
    step_size: η with 0 < ηβ < 1, a scalar (may be traced).

  Returns:
    The state at π_{t+1}.

  Examples:
    From the uniform π_ref the mixture is uniform too, and in this 2-action game its win rates
    differ by 0.3, so with η = ½ the logit gap becomes η·0.3 = 0.15:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> state = games.nash_md.update(game, games.nash_md.init(game), step_size=0.5)
    >>> print(np.round(np.exp(np.asarray(state.log_pi)), 4), int(state.queries))  # σ(0.15)
    [0.5374 0.4626] 1
  """
  step_size = _solver.check_step_below_inverse_beta(game, step_size)
  eb = step_size * game.beta
  log_mix = jax.nn.log_softmax((1.0 - eb) * state.log_pi + eb * game.log_ref)
  log_new = jax.nn.log_softmax(log_mix + step_size * win_rates(game, log_mix))
  return SolverState(log_new, state.step + 1, state.queries + QUERIES_PER_STEP)


@_validate.guarded
def run(game: PreferenceGame, *, step_size: Array, num_steps: int, log_pi0: Array | None = None,
        equilibrium: Array | None = None,
        metrics: tuple[str, ...] = _solver.METRICS) -> tuple[SolverState, Trajectory]:
  """Runs ``num_steps`` Nash-MD steps (``lax.scan``) and records the trajectory.

  Arguments and outputs as :func:`divjax.games.nash_mp.run`, with ``step_size`` = η (ηβ < 1).

  References:
    Munos et al., arXiv:2312.00886.

  Examples:
    The equilibrium of this 2-action game is (σ(0.3/β), 1 − σ(0.3/β)):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> final, _ = games.nash_md.run(game, step_size=0.5, num_steps=60, metrics=())
    >>> print(np.round(np.exp(np.asarray(final.log_pi)), 4), int(final.queries))
    [0.5744 0.4256] 60
  """
  step_size = _solver.check_step_below_inverse_beta(game, step_size)
  step_size = jnp.asarray(step_size, game.log_ref.dtype)
  return _solver.run_scan(lambda s: update(game, s, step_size=step_size), game, init(game, log_pi0),
                          num_steps=num_steps, equilibrium=equilibrium, metrics=metrics)
