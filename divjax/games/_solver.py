"""State, trajectory and the ``lax.scan`` driver shared by the tabular game solvers."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _validate
from divjax.games.game import PreferenceGame, exploitability, kl_to, span_seminorm

Array = jax.Array

#: Metrics a trajectory can record.
METRICS = ("kl", "exploitability", "span")


class SolverState(NamedTuple):
  """State of a tabular solver.

  Attributes:
    log_pi: ``[n]`` normalised log-probabilities of the current policy π_k.
    step: int32 iteration counter k.
    queries: int32 number of preference queries (evaluations of P(·≻π)) used so far.

  Examples:
    Every solver starts at π_0 = π_ref with no queries spent:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> state = games.nash_mp.init(game)
    >>> print(np.round(np.exp(np.asarray(state.log_pi)), 4), int(state.step), int(state.queries))
    [0.5 0.5] 0 0
  """
  log_pi: Array
  step: Array
  queries: Array


class Trajectory(NamedTuple):
  """Per-iterate diagnostics, each ``[num_steps + 1]`` (iterate 0 is the start); None if not recorded.

  Attributes:
    kl: KL(π*_β‖π_k).
    exploitability: Gap(π_k) = β KL(π_k‖BR_β(π_k)).
    span: span(ℓ_k − ℓ*), the span semi-norm of the log-probability error.
    queries: cumulative preference queries after iterate k.

  Examples:
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import games
    >>> game = games.preference_game(jnp.array([[0.5, 0.8], [0.2, 0.5]]), beta=1.0)
    >>> _, traj = games.nash_mp.run(game, step_size=2.0, num_steps=3, metrics=("kl",))
    >>> print(np.asarray(traj.queries), traj.kl.shape, traj.span is None)
    [0 2 4 6] (4,) True
  """
  kl: Array | None
  exploitability: Array | None
  span: Array | None
  queries: Array


def init_state(game: PreferenceGame, log_pi0: Array | None = None) -> SolverState:
  """π_0 = π_ref unless ``log_pi0`` (unnormalised log-probabilities, finite) is given."""
  if log_pi0 is None:
    log_pi = game.log_ref
  else:
    log_pi0 = _validate.finite("log_pi0", log_pi0)
    _validate.last_dim("log_pi0", log_pi0, game.preference.shape[-1], what="one logit per action")
    log_pi = jax.nn.log_softmax(jnp.asarray(log_pi0, game.log_ref.dtype))
  return SolverState(log_pi, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def check_metrics(metrics: tuple[str, ...]) -> tuple[str, ...]:
  metrics = tuple(metrics)
  for m in metrics:
    if m not in METRICS:
      raise ValueError(f"metrics must be drawn from {METRICS}, got {m!r}.")
  return metrics


def run_scan(update: Callable[[SolverState], SolverState], game: PreferenceGame, state: SolverState, *,
             num_steps: int, equilibrium: Array | None,
             metrics: tuple[str, ...]) -> tuple[SolverState, Trajectory]:
  """Drives ``update`` for ``num_steps`` with ``lax.scan`` and records the requested metrics."""
  num_steps = _validate.integer("num_steps", num_steps, minimum=0)
  metrics = check_metrics(metrics)
  if metrics and equilibrium is None:
    from divjax.games.equilibrium import solve_equilibrium
    equilibrium = solve_equilibrium(game).log_pi

  def measure(s: SolverState) -> dict[str, Array]:
    out = {"queries": s.queries}
    if "kl" in metrics:
      out["kl"] = kl_to(equilibrium, s.log_pi)
    if "exploitability" in metrics:
      out["exploitability"] = exploitability(game, s.log_pi)
    if "span" in metrics:
      out["span"] = span_seminorm(s.log_pi, equilibrium)
    return out

  def body(s, _):
    s = update(s)
    return s, measure(s)

  final, rec = jax.lax.scan(body, state, None, length=num_steps)
  first = measure(state)
  rec = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, rec)
  return final, Trajectory(rec.get("kl"), rec.get("exploitability"), rec.get("span"), rec["queries"])


def prox_step(game: PreferenceGame, log_anchor: Array, win: Array, lam: Array) -> Array:
  r"""The closed-form proximal step on logits.

  .. math::  \ell_{\mathrm{new}} = \mathrm{log\_softmax}\big((1-\lambda)\ell_k + \lambda\ell_{\mathrm{ref}}
             + (\lambda/\beta)\,P\pi_{\mathrm{opp}}\big).
  """
  return jax.nn.log_softmax((1.0 - lam) * log_anchor + lam * game.log_ref + (lam / game.beta) * win)


def concrete_positive(name: str, x: Any) -> Any:
  """``x`` must be finite and > 0: a named error when concrete, NaN (and a checked-mode check) traced."""
  return _validate.positive(name, x)


def check_step_below_inverse_beta(game: PreferenceGame, step_size: Any) -> Any:
  """``step_size`` must be > 0 with ``step_size * beta < 1``; returns it (NaN traced if not)."""
  step_size = _validate.positive("step_size", step_size)
  if _validate.is_concrete((step_size, game.beta)):
    prod = np.asarray(step_size) * np.asarray(game.beta)
    if not (prod < 1.0).all():
      raise ValueError(f"step_size must satisfy step_size * beta < 1, got {prod!r}.")
  return _validate.traced_check(step_size, lambda eta: jnp.all(eta * game.beta < 1.0),
                                "step_size must satisfy step_size * beta < 1.")
