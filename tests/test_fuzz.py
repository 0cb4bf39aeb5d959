"""Fuzzing public functions with bad and edge-case inputs (hypothesis, fixed seed, bounded examples).

Each probe is a valid call of one public function. Every array or scalar argument is then corrupted
in each way that applies to its kind (a NaN or inf entry, negative or unnormalised probabilities, an
empty array, a bool dtype, a mismatched length, a non-PSD covariance, a non-positive scale, …), one
argument at a time; hypothesis draws where the bad entry goes and how large the edge magnitudes are.

Each outcome falls in one class:

* ``named error``  — a ``ValueError``/``TypeError`` whose message names an argument of the call;
* ``value``        — finite (or documented infinite) numbers;
* ``silent NaN``   — a result with a NaN and no error;
* ``unnamed error`` / ``deep error`` — a ``ValueError``/``TypeError`` naming no argument, or any
  other exception (a JAX/NumPy internal error).

An *invalid* input must give a named error. An *edge* input (a Python list, an int dtype, 1e±30
magnitudes, duplicate points, −inf logits, a singular covariance) must give a named error or a value,
never a NaN; a Python list must give the same value as the array. ``python -m tests.test_fuzz``
prints the table of probes × outcome classes.

This module covers the shared vocabulary (``divjax.divergences``) and the main entry point of each
other area; the remaining public functions of those areas are not probed yet.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from typing import Any, Callable

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from divjax import alignment, checks, divergences as dv, expfam, games, ib, kde, ot

_P = np.array([0.1, 0.2, 0.3, 0.15, 0.25])
_Q = np.array([0.3, 0.1, 0.2, 0.25, 0.15])
_LOGITS = np.log(_P)
_RNG = np.random.default_rng(0)
_X = _RNG.normal(size=(12, 2))
_Y = _RNG.normal(size=(10, 2)) + 0.5
_MEAN = np.array([0.1, -0.2])
_COV_P = np.array([[1.0, 0.3], [0.3, 0.8]])
_COV_Q = np.array([[1.5, -0.2], [-0.2, 0.6]])


@dataclasses.dataclass(frozen=True)
class Probe:
  """A valid call: ``fn(**args, **fixed)``; ``kinds[name]`` says how each argument may be broken."""
  name: str
  fn: Callable[..., Any]
  args: dict[str, Any]
  kinds: dict[str, str]
  fixed: dict[str, Any] = dataclasses.field(default_factory=dict)
  edges: frozenset = frozenset()  # (arg, mutation) pairs whose value is documented for this function
  # Arguments kept static (closed over) in the jit rows; jit=False skips them, for functions
  # documented as eager-only (their reason goes in a comment at the probe).
  static: tuple = ()
  jit: bool = True


# kind -> [(mutation, class)]; "invalid" must raise a named error, "edge" may also return a value.
_MUTATIONS = {
    "prob": [("nan", "invalid"), ("inf", "invalid"), ("negative", "invalid"),
             ("unnormalised", "invalid"), ("empty", "invalid"), ("bool", "invalid"),
             ("mismatch", "invalid"), ("list", "edge"), ("point_mass", "edge")],
    "logits": [("nan", "invalid"), ("inf", "invalid"), ("empty", "invalid"), ("bool", "invalid"),
               ("mismatch", "invalid"), ("list", "edge"), ("neg_inf", "edge"), ("huge", "edge")],
    "real": [("nan", "invalid"), ("inf", "invalid"), ("empty", "invalid"), ("bool", "invalid"),
             ("list", "edge"), ("huge", "edge"), ("tiny", "edge")],
    "points": [("nan", "invalid"), ("inf", "invalid"), ("empty", "invalid"), ("bool", "invalid"),
               ("mismatch", "invalid"), ("list", "edge"), ("duplicates", "edge"),
               ("huge", "edge"), ("tiny", "edge")],
    "mean": [("nan", "invalid"), ("inf", "invalid"), ("mismatch", "invalid"), ("list", "edge"),
             ("huge", "edge")],
    "cov": [("nan", "invalid"), ("non_psd", "invalid"), ("asymmetric", "invalid"),
            ("mismatch", "invalid"), ("list", "edge"), ("singular", "edge")],
    "scalar": [("nan", "invalid"), ("inf", "invalid"), ("huge", "edge"), ("tiny", "edge"),
               ("zero", "edge"), ("negative", "edge")],
    "positive": [("zero", "invalid"), ("negative", "invalid"), ("nan", "invalid"),
                 ("tiny", "edge"), ("huge", "edge")],
}


def _mutate(value: Any, mutation: str, where: int, magnitude: float) -> Any:
  a = np.array(value, dtype=np.float64)
  flat = a.reshape(-1) if a.ndim else a.reshape(1)
  i = where % max(flat.size, 1)
  if mutation in ("nan", "inf", "neg_inf"):
    flat[i] = {"nan": np.nan, "inf": np.inf, "neg_inf": -np.inf}[mutation]
    return flat.reshape(a.shape)
  if mutation == "negative":
    if a.ndim == 0:
      return -1.0
    flat[i] = -flat[i]
    return flat.reshape(a.shape)
  if mutation == "unnormalised":
    return 2.0 * a
  if mutation == "point_mass":
    out = np.zeros_like(a)
    out.reshape(-1)[i] = 1.0
    return out
  if mutation == "empty":
    return np.zeros((0,) + a.shape[1:])
  if mutation == "bool":
    return a > np.median(a)
  if mutation == "list":
    return a.tolist()
  if mutation == "huge":
    return a * magnitude
  if mutation == "tiny":
    return a / magnitude
  if mutation == "zero":
    return np.zeros_like(a)
  if mutation == "duplicates":
    return np.repeat(a[:1], a.shape[0], axis=0)
  if mutation == "mismatch":
    if a.ndim == 2 and a.shape[0] == a.shape[1]:  # a covariance: one more dimension
      return np.eye(a.shape[0] + 1)
    if a.ndim == 2:  # points: one more coordinate
      return np.concatenate([a, a[:, :1]], axis=1)
    b = np.concatenate([a, a[:1]])
    return b / b.sum() if np.all(a >= 0) and np.isclose(a.sum(), 1) else b
  if mutation == "non_psd":
    w, v = np.linalg.eigh(a)
    w[0] = -abs(w[-1])
    return (v * w) @ v.T
  if mutation == "asymmetric":
    b = a.copy()
    b[0, -1] += 0.5
    return b
  if mutation == "singular":
    v = np.ones((a.shape[0], 1))
    return v @ v.T
  raise AssertionError(mutation)


def _classify(probe: Probe, call: Callable[[], Any]) -> tuple[str, Any, str]:
  try:
    out = call()
  except (ValueError, TypeError) as err:
    names = [*probe.args, *probe.fixed]
    named = any(re.search(rf"(?<![A-Za-z_]){re.escape(n)}(?![A-Za-z_])", str(err)) for n in names)
    return ("named error" if named else "unnamed error"), None, f"{type(err).__name__}: {err}"
  except Exception as err:  # noqa: BLE001 - the point is to see every other failure
    return "deep error", None, f"{type(err).__name__}: {err}"
  leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(out)]
  floats = [x for x in leaves if np.issubdtype(x.dtype, np.floating)]
  if any(np.isnan(x).any() for x in floats):
    return "silent NaN", out, ""
  return "value", out, ""


def _jit_call(probe: Probe, args: dict[str, Any], checked: bool) -> Callable[[], Any]:
  """``fn`` with every argument not in ``probe.static`` traced: under ``jax.jit``, or checked mode."""
  traced = {k: v for k, v in args.items() if k not in probe.static}
  closed = {**{k: v for k, v in args.items() if k in probe.static}, **probe.fixed}

  def fn(traced_args):
    return probe.fn(**traced_args, **closed)

  return lambda: (checks.checked(fn) if checked else jax.jit(fn))(traced)


def _close(a: Any, b: Any) -> bool:
  same = jax.tree_util.tree_map(
      lambda x, y: np.allclose(np.asarray(x, np.float64), np.asarray(y, np.float64), rtol=1e-3,
                               atol=1e-6, equal_nan=True), a, b)
  return all(jax.tree_util.tree_leaves(same))


def _run_probe_traced(probe: Probe, where: int, magnitude: float) -> list[dict[str, str]]:
  """Every mutation again with the arguments traced: under ``jax.jit`` and in checked mode.

  Where the eager call raises a named error for an *invalid* input, ``jax.jit`` must give a named
  error (shapes, dtypes) or NaN — never a plausible number — and :func:`divjax.checks.checked` must
  raise a named error. Where it raises for an *edge* input (a range check against the dtype's
  limits, duplicate points, a singular covariance: checks made on concrete values only, as
  documented in :mod:`divjax.checks`), ``jax.jit`` may give NaN or the floating-point value. Where
  the eager call gives a value, ``jax.jit`` must give the same value (rtol 1e-3). Python lists are
  left out: ``jit`` reads a list as a pytree of scalars.
  """
  rows = []
  for arg, kind in probe.kinds.items():
    if arg in probe.static:
      continue
    for mutation, klass in _MUTATIONS[kind]:
      if mutation == "list" or (mutation == "mismatch" and len(probe.kinds) == 1
                                and kind != "logits"):
        continue
      klass = "edge" if (arg, mutation) in probe.edges else klass
      args = {**probe.args, arg: _mutate(probe.args[arg], mutation, where, magnitude)}
      eager, eager_out, _ = _classify(probe, lambda: probe.fn(**args, **probe.fixed))
      if eager not in ("named error", "value"):
        continue  # the eager rows already fail
      jitted, out, message = _classify(probe, _jit_call(probe, args, checked=False))
      if eager == "value":
        ok = jitted == "value" and _close(out, eager_out)
        outcome = "jit " + ("value" if ok else "differs" if jitted == "value" else jitted)
        rows.append({"probe": probe.name, "arg": arg, "mutation": mutation, "class": "jit",
                     "outcome": outcome, "ok": ok, "message": message})
        continue
      ok = jitted in ("named error", "silent NaN") or (klass == "edge" and jitted == "value")
      rows.append({"probe": probe.name, "arg": arg, "mutation": mutation, "class": "jit",
                   "outcome": "jit " + ("NaN" if jitted == "silent NaN" else jitted), "ok": ok,
                   "message": message})
      if jitted == "silent NaN" and klass == "invalid":
        checked, _, message = _classify(probe, _jit_call(probe, args, checked=True))
        rows.append({"probe": probe.name, "arg": arg, "mutation": mutation, "class": "checked",
                     "outcome": "checked " + checked, "ok": checked == "named error",
                     "message": message})
  return rows


def _run_probe(probe: Probe, where: int, magnitude: float) -> list[dict[str, str]]:
  """Every mutation of every argument of ``probe``; one row per call."""
  _, valid, _ = _classify(probe, lambda: probe.fn(**probe.args, **probe.fixed))
  rows = []
  for arg, kind in probe.kinds.items():
    for mutation, klass in _MUTATIONS[kind]:
      if mutation == "mismatch" and len(probe.kinds) == 1 and kind != "logits":
        continue  # a single array has no partner to mismatch
      klass = "edge" if (arg, mutation) in probe.edges else klass
      args = {**probe.args, arg: _mutate(probe.args[arg], mutation, where, magnitude)}
      outcome, out, message = _classify(probe, lambda: probe.fn(**args, **probe.fixed))
      ok = outcome == "named error" or (klass == "edge" and outcome == "value")
      if ok and mutation == "list" and outcome == "value":
        same = jax.tree_util.tree_map(lambda a, b: np.allclose(a, b, rtol=1e-5, equal_nan=True),
                                      out, valid)
        if not all(jax.tree_util.tree_leaves(same)):
          outcome, ok = "list differs", False
      rows.append({"probe": probe.name, "arg": arg, "mutation": mutation, "class": klass,
                   "outcome": outcome, "ok": ok, "message": message})
  return rows


def _game():
  return games.preference_game(np.array([[0.5, 0.7, 0.2], [0.3, 0.5, 0.6], [0.8, 0.4, 0.5]]),
                               beta=0.1)


def _probes() -> list[Probe]:
  pq = {"p": _P, "q": _Q}
  pq_kinds = {"p": "prob", "q": "prob"}
  probes = []
  for name in ("kl_divergence", "reverse_kl_divergence", "js_divergence", "total_variation",
               "squared_hellinger_distance", "hellinger_distance", "chi2_divergence",
               "cauchy_schwarz_divergence"):
    probes.append(Probe(f"divergences.{name}", getattr(dv, name), pq, pq_kinds))
    if name in ("kl_divergence", "js_divergence"):
      probes.append(Probe(f"divergences.{name}(logits)", getattr(dv, name),
                          {"p": _LOGITS, "q": np.log(_Q)}, {"p": "logits", "q": "logits"},
                          {"logits": True}))
  for name in ("renyi_divergence", "alpha_divergence"):
    probes.append(Probe(f"divergences.{name}", getattr(dv, name), pq, pq_kinds, {"alpha": 0.5}))
  probes.append(Probe("divergences.f_divergence", dv.f_divergence, pq, pq_kinds,
                      {"generator": dv.alpha_generator(2.0)}))
  probes.append(Probe("divergences.normalized_log_probs", dv.normalized_log_probs, {"x": _P},
                      {"x": "prob"}, {"name": "x"}))
  gauss = {"mean_p": _MEAN, "cov_p": _COV_P, "mean_q": -_MEAN, "cov_q": _COV_Q}
  gauss_kinds = {"mean_p": "mean", "cov_p": "cov", "mean_q": "mean", "cov_q": "cov"}
  for name in ("gaussian_kl_divergence", "gaussian_bhattacharyya_distance",
               "gaussian_squared_hellinger_distance", "gaussian_hellinger_distance",
               "gaussian_cauchy_schwarz_divergence", "gaussian_squared_wasserstein2"):
    probes.append(Probe(f"divergences.{name}", getattr(dv, name), gauss, gauss_kinds))
  probes.append(Probe("divergences.gaussian_renyi_divergence", dv.gaussian_renyi_divergence, gauss,
                      gauss_kinds, {"alpha": 0.5}))
  for method in ("auto", "brute"):  # auto is the KD-tree here (CPU, d = 2)
    suffix = "" if method == "auto" else f"(method={method})"
    fixed = {} if method == "auto" else {"method": method}
    probes.append(Probe(f"divergences.knn_kl_divergence{suffix}", dv.knn_kl_divergence,
                        {"x": _X, "y": _Y}, {"x": "points", "y": "points"}, fixed))
    probes.append(Probe(f"divergences.knn_entropy{suffix}", dv.knn_entropy, {"x": _X},
                        {"x": "points"}, fixed))
    # x and y are paired samples; their dimensions may differ, so a mismatched d is valid.
    probes.append(Probe(f"divergences.ksg_mutual_information{suffix}", dv.ksg_mutual_information,
                        {"x": _X[:, :1], "y": _X[:, 1:] + 0.5 * _X[:, :1]},
                        {"x": "points", "y": "points"}, fixed,
                        edges=frozenset({("x", "mismatch"), ("y", "mismatch")})))
  t = {"t_p": _X[:, 0], "t_q": _Y[:, 0]}
  for name in ("donsker_varadhan_bound", "nwj_bound"):
    probes.append(Probe(f"divergences.{name}", getattr(dv, name), t, {"t_p": "real", "t_q": "real"}))
  # The main entry point of every other area.
  probes.append(Probe("kde.log_density", kde.log_density,
                      {"x": _Y, "data": _X, "bandwidth": 0.5},
                      {"x": "points", "data": "points", "bandwidth": "positive"},
                      edges=frozenset({("x", "empty")})))  # no queries: an empty result
  probes.append(Probe("ot.sinkhorn_cost", ot.sinkhorn_cost, {"x": _X, "y": _Y, "epsilon": 0.5},
                      {"x": "points", "y": "points", "epsilon": "positive"}))
  probes.append(Probe("ib.cs_divergence", ib.cs_divergence, {"x": _X, "y": _Y, "sigma": 1.0},
                      {"x": "points", "y": "points", "sigma": "positive"}))
  probes.append(Probe("alignment.tilt", alignment.tilt,
                      {"ref_logits": _LOGITS, "reward": _Q * 3, "lam": 2.0},
                      {"ref_logits": "logits", "reward": "real", "lam": "scalar"},
                      edges=frozenset({("lam", "inf")})))  # λ = +inf: p on the argmax set
  probes.append(Probe("games.preference_game", games.preference_game,
                      {"preference": np.array([[0.5, 0.7], [0.3, 0.5]]), "beta": 0.1},
                      {"beta": "positive"}))
  probes.append(Probe("games.exploitability", games.exploitability,
                      {"log_pi": np.log(np.array([0.2, 0.3, 0.5]))}, {"log_pi": "logits"},
                      {"game": _game()}))
  probes.append(Probe("expfam.mle", expfam.mle, {"samples": _X[:, 0]}, {"samples": "real"},
                      {"family": expfam.normal()}))
  return probes


PROBES = _probes()


def check_probe(probe: Probe, where: int, magnitude: float) -> None:
  """Asserts every eager row of ``probe`` is as documented (see the module docstring)."""
  _assert_rows(_run_probe(probe, where, magnitude))


def check_probe_traced(probe: Probe) -> None:
  """Asserts every jit and checked-mode row of ``probe`` (at one fixed draw)."""
  if probe.jit:
    _assert_rows(_run_probe_traced(probe, 3, 1e30))


def _assert_rows(rows: list[dict[str, str]]) -> None:
  bad = [f"{r['arg']}={r['mutation']} ({r['class']}): {r['outcome']} {r['message'][:120]}"
         for r in rows if not r["ok"]]
  assert not bad, "\n".join(bad)


#: The hypothesis draw shared by the probe modules: where the bad entry goes, how large edges are.
fuzz_draws = given(where=st.integers(0, 63), magnitude=st.sampled_from([1e30, 1e15, 1e8]))


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
@settings(max_examples=2)
@fuzz_draws
def test_bad_inputs_give_a_named_error_and_edge_inputs_a_value(probe, where, magnitude):
  check_probe(probe, where, magnitude)


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_under_jit_bad_inputs_give_nan_or_a_named_error_and_checked_mode_names_them(probe):
  check_probe_traced(probe)


def table(rows: list[dict[str, str]]) -> str:
  """Markdown table: probes × outcome classes (counts), failures marked."""
  classes = ["named error", "value", "silent NaN", "unnamed error", "deep error", "list differs",
             "jit value", "jit NaN", "jit named error", "jit differs", "checked named error"]
  lines = ["| probe | calls | " + " | ".join(classes) + " | failing |",
           "|---|---|" + "---|" * len(classes) + "---|"]
  for name in dict.fromkeys(r["probe"] for r in rows):
    mine = [r for r in rows if r["probe"] == name]
    counts = Counter(r["outcome"] for r in mine)
    lines.append(f"| {name} | {len(mine)} | " + " | ".join(str(counts.get(c, 0)) for c in classes)
                 + f" | {sum(not r['ok'] for r in mine)} |")
  return "\n".join(lines)


if __name__ == "__main__":  # python -m tests.test_fuzz: the outcome table and every failure
  all_rows = [r for p in PROBES for r in [*_run_probe(p, 3, 1e30), *_run_probe_traced(p, 3, 1e30)]
              if p.jit or r["class"] not in ("jit", "checked")]
  print(table(all_rows))
  print()
  for r in all_rows:
    if not r["ok"]:
      print(f"FAIL {r['probe']} {r['arg']}={r['mutation']}: {r['outcome']} {r['message'][:160]}")
