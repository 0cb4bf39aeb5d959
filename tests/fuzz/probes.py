"""One valid call (a :class:`~tests.fuzz.framework.Probe`) of every public divjax function.

Each probe names how each argument may be broken (its *kind*, see
:data:`tests.fuzz.framework.MUTATIONS`). Functions that take no argument that can be broken are in
:data:`EXEMPT` with the reason. :func:`tests.test_fuzz.test_every_public_function_is_probed` keeps
the two lists complete.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from divjax import alignment, divergences as dv, expfam, games, ib, kde, ot
from divjax.kde import theory
from tests.fuzz.framework import Probe

_P = np.array([0.1, 0.2, 0.3, 0.15, 0.25])
_Q = np.array([0.3, 0.1, 0.2, 0.25, 0.15])
_LOGITS = np.log(_P)
_RNG = np.random.default_rng(0)
_X = _RNG.normal(size=(12, 2))
_Y = _RNG.normal(size=(10, 2)) + 0.5
_MEAN = np.array([0.1, -0.2])
_COV_P = np.array([[1.0, 0.3], [0.3, 0.8]])
_COV_Q = np.array([[1.5, -0.2], [-0.2, 0.6]])
_KEY = jax.random.key(0)
_CHANNEL = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1]])


def _game():
  return games.preference_game(np.array([[0.5, 0.7, 0.2], [0.3, 0.5, 0.6], [0.8, 0.4, 0.5]]),
                               beta=0.1)


# ---------------------------------------------------------------------------------------------------
# divjax.divergences


def divergence_probes() -> list[Probe]:
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
  # The masks do not switch the checks off: a corrupted p or q is still named (row_mask keeps the row).
  keep = np.array([True, True, False, True, True])
  for mask in ("condition_on", "sum_where"):
    probes.append(Probe(f"divergences.kl_divergence({mask})", dv.kl_divergence, pq, pq_kinds,
                        {mask: keep}))
  probes.append(Probe("divergences.kl_divergence(row_mask)", dv.kl_divergence, pq, pq_kinds,
                      {"row_mask": np.bool_(True)}))
  for name in ("renyi_divergence", "alpha_divergence"):
    probes.append(Probe(f"divergences.{name}", getattr(dv, name), {**pq, "alpha": 0.5},
                        {**pq_kinds, "alpha": "scalar"},
                        edges=frozenset({("alpha", "zero"), ("alpha", "negative")}),
                        static=("alpha",)))
  probes.append(Probe("divergences.f_divergence", dv.f_divergence, pq, pq_kinds,
                      {"generator": dv.alpha_generator(2.0)}))
  probes.append(Probe("divergences.alpha_generator",
                      lambda alpha: dv.f_divergence(dv.alpha_generator(alpha), _P, _Q),
                      {"alpha": 2.0}, {"alpha": "scalar"}, targets=(dv.alpha_generator,),
                      # α = 0 and α = 1 are the KL limits; α < 0 is a valid order.
                      edges=frozenset({("alpha", "zero"), ("alpha", "negative")})))
  probes.append(Probe("divergences.normalized_log_probs", dv.normalized_log_probs, {"x": _P},
                      {"x": "prob"}, {"name": "x"}))
  gauss = {"mean_p": _MEAN, "cov_p": _COV_P, "mean_q": -_MEAN, "cov_q": _COV_Q}
  gauss_kinds = {"mean_p": "mean", "cov_p": "cov", "mean_q": "mean", "cov_q": "cov"}
  for name in ("gaussian_kl_divergence", "gaussian_bhattacharyya_distance",
               "gaussian_squared_hellinger_distance", "gaussian_hellinger_distance",
               "gaussian_cauchy_schwarz_divergence", "gaussian_squared_wasserstein2"):
    probes.append(Probe(f"divergences.{name}", getattr(dv, name), gauss, gauss_kinds))
  probes.append(Probe("divergences.gaussian_renyi_divergence", dv.gaussian_renyi_divergence,
                      {**gauss, "alpha": 0.5}, {**gauss_kinds, "alpha": "positive"}))
  for method in ("auto", "brute"):  # auto is the KD-tree here (CPU, d = 2)
    suffix = "" if method == "auto" else f"(method={method})"
    fixed = {} if method == "auto" else {"method": method}
    probes.append(Probe(f"divergences.knn_kl_divergence{suffix}", dv.knn_kl_divergence,
                        {"x": _X, "y": _Y, "k": 1}, {"x": "points", "y": "points", "k": "count"},
                        fixed))
    probes.append(Probe(f"divergences.knn_entropy{suffix}", dv.knn_entropy, {"x": _X},
                        {"x": "points"}, fixed))
    # x and y are paired samples: their dimensions may differ, their row counts may not.
    probes.append(Probe(f"divergences.ksg_mutual_information{suffix}", dv.ksg_mutual_information,
                        {"x": _X[:, :1], "y": _X[:, 1:] + 0.5 * _X[:, :1]},
                        {"x": "samples", "y": "samples"}, fixed))
  t = {"t_p": _X[:, 0], "t_q": _Y[:, 0]}
  for name in ("donsker_varadhan_bound", "nwj_bound"):
    probes.append(Probe(f"divergences.{name}", getattr(dv, name), t, {"t_p": "real", "t_q": "real"}))
  probes.append(Probe("divergences.f_gan_bound", dv.f_gan_bound, {"t_p": _X[:, 0] * 0.1,
                                                                 "t_q": _Y[:, 0] * 0.1},
                      {"t_p": "real", "t_q": "real"}, {"generator": dv.alpha_generator(2.0)}))
  return probes


# ---------------------------------------------------------------------------------------------------
# divjax.kde and divjax.kde.theory


def kde_probes() -> list[Probe]:
  points = {"x": "points", "data": "points", "bandwidth": "positive"}
  probes = [
      Probe("kde.log_density", kde.log_density, {"x": _Y, "data": _X, "bandwidth": 0.5}, points,
            edges=frozenset({("x", "empty")})),  # no queries: an empty result
      Probe("kde.log_density(weights)", kde.log_density,
            {"x": _Y, "data": _X, "bandwidth": np.array([0.5, 0.7]),
             "weights": np.linspace(1.0, 2.0, 12)},
            {"x": "points", "data": "points", "bandwidth": "positive", "weights": "real"},
            edges=frozenset({("x", "empty")})),
      Probe("kde.log_density(covariance)", kde.log_density,
            {"x": _Y, "data": _X, "bandwidth": _COV_P}, {"x": "points", "bandwidth": "cov"},
            edges=frozenset({("x", "empty")})),
      # An isotropic bandwidth fits data of any dimension: "mismatch" (one more column) is valid.
      Probe("kde.loo_log_likelihood", kde.loo_log_likelihood, {"data": _X, "bandwidth": 0.5},
            {"data": "points", "bandwidth": "positive"}, edges=frozenset({("data", "mismatch")})),
      Probe("kde.participation_ratio", kde.participation_ratio,
            {"x": _Y, "data": _X, "bandwidth": 0.5}, points, edges=frozenset({("x", "empty")})),
  ]
  for name in ("scott_bandwidth", "silverman_bandwidth", "kl_optimal_bandwidth"):
    probes.append(Probe(f"kde.{name}", getattr(kde, name), {"data": _X}, {"data": "points"}))
  probes.append(Probe("kde.max_loo_bandwidth", kde.max_loo_bandwidth,
                      {"data": _X, "num_steps": 8}, {"data": "points", "num_steps": "count"},
                      edges=frozenset({("data", "mismatch")})))

  def logpdf(x):
    return -0.5 * jnp.sum(x**2, axis=1) - jnp.log(2 * jnp.pi)

  def sampler(key, m):
    return jax.random.normal(key, (m, 2))

  probes.append(Probe("kde.kl_to_reference", kde.kl_to_reference,
                      {"data": _X, "bandwidth": 0.5, "n_test": 64},
                      {"data": "points", "bandwidth": "positive", "n_test": "count"},
                      {"key": _KEY, "logpdf_true": logpdf, "sampler": sampler}))
  # Theory: α = log(n)/d > 0, h > 0, σ > 0.
  alpha_kinds = {"alpha": "positive", "sigma": "positive"}
  for name in ("h_g", "h_clt", "h_var", "u_min", "h_star"):
    probes.append(Probe(f"kde.theory.{name}", getattr(theory, name), {"alpha": 0.3, "sigma": 1.0},
                        alpha_kinds))
  probes.append(Probe("kde.theory.g_star", theory.g_star, {"alpha": 0.3}, {"alpha": "positive"}))
  probes.append(Probe("kde.theory.tilted_log_count", theory.tilted_log_count, {"g": 2.0},
                      {"g": "positive"}, edges=frozenset({("g", "zero")})))  # S(0) = 0
  for name in ("stable_index", "log_likelihood", "kl_per_dim"):
    probes.append(Probe(f"kde.theory.{name}", getattr(theory, name),
                        {"h": 0.8, "alpha": 0.3, "sigma": 1.0},
                        {"h": "positive", **alpha_kinds}))
  probes.append(Probe("kde.theory.cross_entropy_per_dim", theory.cross_entropy_per_dim,
                      {"sigma": 1.0}, {"sigma": "positive"}))
  probes.append(Probe("kde.theory.fluctuation_rate", theory.fluctuation_rate,
                      {"h": 0.8, "alpha": 0.3}, {"h": "positive", "alpha": "positive"}))
  variances = np.array([0.5, 1.0, 2.0])
  probes.append(Probe("kde.theory.general_thresholds", theory.general_thresholds,
                      {"alpha": 0.3, "variances": variances},
                      {"alpha": "positive", "variances": "positive"}))
  for name in ("general_log_likelihood", "general_kl_per_dim"):
    probes.append(Probe(f"kde.theory.{name}", getattr(theory, name),
                        {"h": 0.8, "alpha": 0.3, "variances": variances},
                        {"h": "positive", "alpha": "positive", "variances": "positive"}))
  probes.append(Probe("kde.theory.gauss_laguerre", theory.gauss_laguerre,
                      {"num_nodes": 4, "a": 0.5}, {"num_nodes": "count", "a": "scalar"},
                      edges=frozenset({("a", "zero"), ("a", "tiny")}),
                      jit=False))  # NumPy nodes and weights (Golub–Welsch): not a traced function
  probes.append(Probe("kde.theory.ncx2_logpdf", theory.ncx2_logpdf,
                      {"D": np.array([0.5, 2.0]), "df": 3.0, "nc": 1.0, "num_terms": 50},
                      {"D": "positive", "df": "positive", "nc": "scalar", "num_terms": "count"},
                      edges=frozenset({("nc", "zero"), ("nc", "tiny")})))
  probes.append(Probe("kde.theory.finite_d_prediction", theory.finite_d_prediction,
                      {"h": np.array([1.2]), "n": 50, "d": 4, "num_nodes": 2, "num_grid": 32,
                       "num_tau": 16},
                      {"h": "positive", "n": "count", "d": "count", "num_nodes": "count",
                       "num_grid": "count", "num_tau": "count"},
                      jit=False))  # float64 quadrature with NumPy outputs: an eager-only function
  probes.append(Probe("kde.theory.clt_relative_sd", theory.clt_relative_sd,
                      {"h": 2.0, "n": 100, "d": 5, "r2": 5.0},
                      {"h": "positive", "n": "count", "d": "count", "r2": "positive"},
                      edges=frozenset({("r2", "zero")})))  # x at the data mean
  return probes


# ---------------------------------------------------------------------------------------------------
# divjax.expfam


def expfam_probes() -> list[Probe]:
  fam = expfam.exponential()
  theta = np.array([-1.5])
  probes = [
      Probe("expfam.mle", expfam.mle, {"samples": _X[:, 0]}, {"samples": "real"},
            {"family": expfam.normal()}),
      Probe("expfam.mle(exponential)", expfam.mle, {"samples": np.abs(_X[:, 0]) + 0.1},
            {"samples": "real"}, {"family": fam}),
      Probe("expfam.log_prob", expfam.log_prob, {"theta": np.array([0.2, -0.5]), "x": 0.3},
            {"theta": "real", "x": "scalar"}, {"family": expfam.normal()},
            edges=frozenset({("x", "huge")})),  # -inf at x = 3e29: the Gaussian tail
      Probe("expfam.mean_parameters", expfam.mean_parameters, {"theta": theta}, {"theta": "real"},
            {"family": fam}),
      Probe("expfam.fisher_information", expfam.fisher_information, {"theta": theta},
            {"theta": "real"}, {"family": fam}),
      # A boolean result: under jit a NaN or inf θ is reported as outside Θ (False).
      Probe("expfam.in_natural_domain", expfam.in_natural_domain, {"theta": theta},
            {"theta": "real"}, {"family": fam},
            edges=frozenset({("theta", "nan"), ("theta", "inf")})),
      Probe("expfam.cumulants", expfam.cumulants, {"theta": theta}, {"theta": "real"},
            {"family": fam}),
      Probe("expfam.normal_bayes_error", expfam.normal_bayes_error,
            {"mean1": np.array([0.0, 1.0]), "var1": np.array([1.0, 0.5]), "mean2": 0.3,
             "var2": np.array([2.0, 0.5])},
            {"mean1": "real", "var1": "positive", "mean2": "scalar", "var2": "positive"}),
      Probe("expfam.bregman_kl_divergence", expfam.bregman_kl_divergence,
            {"theta1": theta, "theta2": np.array([-0.5])}, {"theta1": "real", "theta2": "real"},
            {"family": fam}),
      Probe("expfam.target_moments", expfam.target_moments, {"target": _X[:, 0]},
            {"target": "real"}, {"family": expfam.normal()}),
      Probe("expfam.information_projection", expfam.information_projection,
            {"target": _X[:, 0]}, {"target": "real"}, {"family": expfam.normal()}),
      Probe("expfam.risk_expansion", expfam.risk_expansion,
            {"theta_star": np.array([-0.5]), "cov_T": np.array([[2.0]]),
             "third_cumulant_T": np.array([[[4.0]]])},
            {"theta_star": "real", "cov_T": "cov", "third_cumulant_T": "real"}, {"family": fam},
            edges=frozenset({("cov_T", "asymmetric")})),  # 1 × 1: there is no off-diagonal
      Probe("expfam.categorical", expfam.categorical, {"k": 3}, {"k": "count"}),
      Probe("expfam.multivariate_normal", expfam.multivariate_normal, {"d": 2}, {"d": "count"}),
      Probe("expfam.polynomial", expfam.polynomial, {"k": 2, "num_points": 101},
            {"k": "count", "num_points": "count"}),
      Probe("expfam.custom", lambda dim: expfam.custom("rate", dim, jnp.atleast_1d,
                                                       lambda th: -jnp.log(-th[0])),
            {"dim": 1}, {"dim": "count"}, targets=(expfam.custom,)),
      Probe("expfam.exact_risk_exponential_gamma", expfam.exact_risk_exponential_gamma,
            {"shape": 2.0, "n": 20}, {"shape": "positive", "n": "count"}, jit=False),
      Probe("expfam.exact_risk_normal", expfam.exact_risk_normal, {"n": 20}, {"n": "count"}),
      Probe("expfam.exact_risk_categorical", expfam.exact_risk_categorical,
            {"probs": np.array([0.2, 0.3, 0.5]), "n": 10}, {"probs": "prob", "n": "count"},
            edges=frozenset({("probs", "point_mass"), ("probs", "mismatch")}),
            jit=False),  # exact enumeration in NumPy/SciPy (float64): an eager-only function
      Probe("expfam.exact_risk_poisson_negative_binomial",
            expfam.exact_risk_poisson_negative_binomial,
            {"mean": 2.0, "dispersion": 3.0, "n": 20},
            {"mean": "positive", "dispersion": "positive", "n": "count"},
            jit=False),  # series summed in NumPy (float64): an eager-only function
      Probe("expfam.monte_carlo_risk", expfam.monte_carlo_risk,
            {"theta_star": np.array([-1.0]), "n": 10, "num_replications": 64, "batch_size": 32},
            {"theta_star": "real", "n": "count", "num_replications": "count",
             "batch_size": "count"},
            {"key": _KEY, "family": fam,
             "sampler": lambda key, shape: jax.random.exponential(key, shape)}),
      # An infinite risk (an MLE on the boundary) bounds nothing: 0; no risks, no bounds.
      Probe("expfam.bayes_error_lower_bound", expfam.bayes_error_lower_bound,
            {"risk": np.array([0.0, 0.02, 0.08])}, {"risk": "real"},
            edges=frozenset({("risk", "inf"), ("risk", "empty")})),
      Probe("expfam.critical_risk", expfam.critical_risk, {"eps": np.array([0.05, 0.2])},
            {"eps": "unit"}),
      Probe("expfam.pn_criterion", expfam.pn_criterion,
            {"R1": 1.0, "R2": 61 / 12, "eps": 0.05, "n": 40},
            {"R1": "positive", "R2": "scalar", "eps": "unit", "n": "count"},
            edges=frozenset({("R2", "zero"), ("R2", "negative")})),
      Probe("expfam.mardia_kurtosis", expfam.mardia_kurtosis, {"x": _X}, {"x": "points"}),
      Probe("expfam.normal_model_p_eff", expfam.normal_model_p_eff, {"x": _X}, {"x": "points"}),
      Probe("expfam.compress_normal_model", expfam.compress_normal_model,
            {"x": np.concatenate([_X, _X[:, :1] ** 3], axis=1), "eps": 0.1},
            {"x": "points", "eps": "unit"},
            jit=False),  # a greedy model search in NumPy: an eager-only function
  ]
  return probes


# ---------------------------------------------------------------------------------------------------
# divjax.games


def games_probes() -> list[Probe]:
  game = _game()
  log_pi = np.log(np.array([0.2, 0.3, 0.5]))
  probes = [
      Probe("games.preference_game", games.preference_game,
            {"preference": np.array([[0.5, 0.7], [0.3, 0.5]]), "beta": 0.1,
             "ref_logits": np.array([0.0, 0.5])},
            {"preference": "real", "beta": "positive", "ref_logits": "real"}),
  ]
  for name in ("win_rates", "best_response", "exploitability", "exploitability_closed_form",
               "fixed_point_residual"):
    probes.append(Probe(f"games.{name}", getattr(games, name), {"log_pi": log_pi},
                        {"log_pi": "logits"}, {"game": game}))
  probes.append(Probe("games.span_seminorm", games.span_seminorm,
                      {"log_p": log_pi, "log_q": np.log(np.array([0.4, 0.4, 0.2]))},
                      {"log_p": "logits", "log_q": "logits"}))
  for name, n in (("uniform", 3), ("skew_sigmoid", 3), ("bradley_terry", 3), ("cyclic", 5)):
    probes.append(Probe(f"games.{name}", getattr(games, name), {"n": n, "beta": 0.1},
                        {"n": "count", "beta": "positive"}, {"key": _KEY}))
  probes.append(Probe("games.solve_equilibrium", games.solve_equilibrium,
                      {"warm_start_tol": 1e-4, "newton_steps": 4},
                      {"warm_start_tol": "positive", "newton_steps": "count"}, {"game": game},
                      edges=frozenset({("newton_steps", "int_zero")})))  # zero Newton steps: allowed
  for module in (games.nash_mp, games.egpo, games.mmd, games.nash_md):
    short = module.__name__.rsplit(".", 1)[-1]
    eta = 0.2 if short != "egpo" else 0.1

    def run_solver(step_size, num_steps, log_pi0, module=module):
      solver = module.solver(step_size=step_size)
      return games.run(solver, game, solver.init(game, log_pi0), num_steps=num_steps, equilibrium=log_pi)

    probes.append(Probe(f"games.{short}.solver", run_solver,
                        {"step_size": eta, "num_steps": 5, "log_pi0": log_pi},
                        {"step_size": "positive", "num_steps": "count", "log_pi0": "real"},
                        targets=(module.solver, games.run),
                        # η > 1/β breaks Nash-MD's and EGPO's step condition: a named error.
                        # Zero steps: the trajectory holds the start only (documented).
                        edges=frozenset({("step_size", "huge"), ("step_size", "tiny"),
                                         ("num_steps", "int_zero")})))
  probes.append(Probe("games.nash_mp.theory_step_size", games.nash_mp.theory_step_size,
                      {"beta": 0.1}, {"beta": "positive"}))
  probes.append(Probe("games.egpo.step_size_from_nash_mp", games.egpo.step_size_from_nash_mp,
                      {"eta": 0.2, "beta": 0.1}, {"eta": "positive", "beta": "positive"}))
  apply_fn, params = games.approximate.tabular_policy(game)
  def run_approximate(step_size, inner_steps, num_steps):
    solver = games.approximate.solver(apply_fn=apply_fn, step_size=step_size, inner_steps=inner_steps,
                                      optimizer=optax.sgd(0.5))
    return games.run(solver, game, solver.init(game, params), num_steps=num_steps, key=_KEY)

  probes.append(Probe("games.approximate.solver", run_approximate,
                      {"step_size": 0.2, "inner_steps": 3, "num_steps": 2},
                      {"step_size": "positive", "inner_steps": "count", "num_steps": "count"},
                      targets=(games.approximate.solver, games.approximate.tabular_policy),
                      edges=frozenset({("step_size", "huge"), ("num_steps", "int_zero")}),
                      skip={("step_size", "tiny"): "the proximal objective's curvature is 1/η: "
                            "plain SGD at a fixed learning rate diverges for η ≪ lr (documented "
                            "in update's docstring)"}))
  probes.append(Probe("games.approximate.prox_objective",
                      lambda log_theta, log_anchor, step_size: games.approximate.prox_objective(
                          game, log_theta, log_anchor, log_pi, step_size=step_size),
                      {"log_theta": log_pi, "log_anchor": log_pi, "step_size": 0.2},
                      {"log_theta": "logits", "log_anchor": "logits", "step_size": "positive"},
                      targets=(games.approximate.prox_objective,)))
  return probes


# ---------------------------------------------------------------------------------------------------
# divjax.alignment


def alignment_probes() -> list[Probe]:
  ref, reward = _LOGITS, _Q * 3
  problem = {"ref_logits": ref, "reward": reward}
  problem_kinds = {"ref_logits": "logits", "reward": "real"}
  gen = alignment.fdpo_generator("reverse_kl")
  logps = np.log(np.array([0.2, 0.5, 0.1]))
  probes = [
      Probe("alignment.tilt", alignment.tilt, {**problem, "lam": 2.0},
            {**problem_kinds, "lam": "scalar"},
            edges=frozenset({("lam", "inf")})),  # λ = +inf: p on the argmax set
      Probe("alignment.solve_kl_budget", alignment.solve_kl_budget, {**problem, "delta": 0.2},
            {**problem_kinds, "delta": "scalar"},
            edges=frozenset({("delta", "inf")})),  # an unlimited budget: the argmax policy
      Probe("alignment.solve_expected_reward", alignment.solve_expected_reward,
            {**problem, "target": 0.7}, {**problem_kinds, "target": "scalar"}),
      Probe("alignment.kl_to_tilted", alignment.kl_to_tilted,
            {"policy_logits": np.log(_Q), **problem, "lam": 1.0},
            {"policy_logits": "logits", **problem_kinds, "lam": "scalar"}),
      Probe("alignment.tilted_rate_function", alignment.tilted_rate_function,
            {**problem, "x": 0.7, "lam": 0.5}, {**problem_kinds, "x": "scalar", "lam": "scalar"}),
      Probe("alignment.best_of_n", alignment.best_of_n, {**problem, "n": 4.0},
            {**problem_kinds, "n": "positive"}),
      Probe("alignment.best_of_n_kl_bound", alignment.best_of_n_kl_bound, {"n": 4.0},
            {"n": "positive"}),
      Probe("alignment.best_of_n_win_rate_bound", alignment.best_of_n_win_rate_bound,
            {"n": 4.0}, {"n": "positive"}),
      Probe("alignment.kl_regularized_objective", alignment.kl_regularized_objective,
            {"policy_logits": np.log(_Q), **problem, "beta": 0.5},
            {"policy_logits": "logits", **problem_kinds, "beta": "positive"}),
      Probe("alignment.kl_regularized_optimum", alignment.kl_regularized_optimum,
            {**problem, "beta": 0.5}, {**problem_kinds, "beta": "positive"}),
      Probe("alignment.fdpo_generator",
            lambda alpha: dv.f_divergence(alignment.fdpo_generator("alpha", alpha=alpha), _P, _Q),
            {"alpha": 0.5}, {"alpha": "unit"}, targets=(alignment.fdpo_generator,)),
      Probe("alignment.fdpo_reward", alignment.fdpo_reward,
            {"policy_logits": np.log(_Q), "ref_logits": ref, "beta": 0.5},
            {"policy_logits": "logits", "ref_logits": "logits", "beta": "positive"},
            {"generator": gen}),
      Probe("alignment.fdpo_policy", alignment.fdpo_policy, {**problem, "beta": 0.5},
            {**problem_kinds, "beta": "positive"}, {"generator": gen}),
      Probe("alignment.fdpo_loss", alignment.fdpo_loss,
            {"policy_chosen_logps": logps, "policy_rejected_logps": logps - 0.3,
             "ref_chosen_logps": logps - 0.1, "ref_rejected_logps": logps, "beta": 0.5},
            {"policy_chosen_logps": "logps", "policy_rejected_logps": "logps",
             "ref_chosen_logps": "logps", "ref_rejected_logps": "logps", "beta": "positive"},
            {"generator": gen}),
      Probe("alignment.fdpg_gradient", alignment.fdpg_gradient,
            {"policy_logits": np.log(_Q), "target_logits": ref},
            {"policy_logits": "logits", "target_logits": "logits"}, {"generator": gen}),
      Probe("alignment.fdpg_surrogate_loss", alignment.fdpg_surrogate_loss,
            {"policy_logps": logps, "target_logps": logps - 0.2},
            {"policy_logps": "logps", "target_logps": "logps"}, {"generator": gen}),
      Probe("alignment.f_penalty_per_sample", alignment.f_penalty_per_sample,
            {"policy_logps": logps, "ref_logps": logps - 0.2},
            {"policy_logps": "logps", "ref_logps": "logps"}, {"generator": gen}),
      Probe("alignment.k3_per_sample", alignment.k3_per_sample,
            {"policy_logps": logps, "ref_logps": logps - 0.2, "clip": 10.0},
            {"policy_logps": "logps", "ref_logps": "logps", "clip": "positive"}),
  ]
  return probes


# ---------------------------------------------------------------------------------------------------
# divjax.ib


def ib_probes() -> list[Probe]:
  w0, w1 = np.array([[1.0, 0.5, 0.0], [0.2, 1.0, 0.3]]), np.array([[0.5, 1.0]])
  mean3 = np.array([0.5, -0.2, 0.1])
  spectrum = ib.gaussian_ib_spectrum(np.eye(2), np.diag([0.9, 0.5]), np.eye(2))
  two_widths = {"sigma_x": 1.0, "sigma_t": 1.0}
  probes = [
      Probe("ib.log_gram", ib.log_gram, {"x": _X, "y": _Y, "sigma": 1.0},
            {"x": "points", "y": "points", "sigma": "positive"}),
      Probe("ib.cs_divergence", ib.cs_divergence, {"x": _X, "y": _Y, "sigma": 1.0},
            {"x": "points", "y": "points", "sigma": "positive"}),
      Probe("ib.gaussian_cs_divergence", ib.gaussian_cs_divergence,
            {"mean_p": _MEAN, "cov_p": _COV_P, "mean_q": -_MEAN, "cov_q": _COV_Q,
             "kernel_width": 0.5},
            {"mean_p": "mean", "cov_p": "cov", "mean_q": "mean", "cov_q": "cov",
             "kernel_width": "positive"}),
      Probe("ib.conditional_cs_divergence", ib.conditional_cs_divergence,
            {"x": _X, "y": _Y[:, :1].repeat(2, 0)[:12], "y_pred": _Y[:, :1].repeat(2, 0)[:12] + 0.1,
             "sigma_x": 1.0, "sigma_y": 1.0},
            {"x": "samples", "y": "points", "y_pred": "points", "sigma_x": "positive",
             "sigma_y": "positive"}),
      Probe("ib.cs_qmi", ib.cs_qmi, {"x": _X, "t": _X[:, :1] + 0.1, **two_widths},
            {"x": "samples", "t": "samples", "sigma_x": "positive", "sigma_t": "positive"}),
      Probe("ib.cs_qmi_normalized", ib.cs_qmi_normalized,
            {"x": _X, "t": _X[:, :1] + 0.1, **two_widths},
            {"x": "samples", "t": "samples", "sigma_x": "positive", "sigma_t": "positive"}),
      Probe("ib.gaussian_cs_qmi", ib.gaussian_cs_qmi,
            {"cov": np.array([[1.0, 0.6, 0.1], [0.6, 1.0, 0.2], [0.1, 0.2, 1.0]]), "dim_x": 1},
            {"cov": "cov", "dim_x": "count"},
            edges=frozenset({("cov", "mismatch")})),  # a (d+1)-dimensional joint law is valid
      Probe("ib.gaussian_ib_spectrum", ib.gaussian_ib_spectrum,
            {"cov_x": np.eye(2), "cov_xy": np.diag([0.9, 0.5]), "cov_y": np.eye(2)},
            {"cov_x": "cov", "cov_xy": "real", "cov_y": "cov"},
            targets=(ib.gaussian_ib_spectrum, ib.critical_betas)),
      Probe("ib.linear_encoder_information", ib.linear_encoder_information,
            {"a": np.eye(2)}, {"a": "matrix"}, {"spectrum": spectrum},
            edges=frozenset({("a", "empty")})),  # a 0-dimensional T: no information
      # β = 0 (no incentive to keep information) and I(T;X) = 0 are the trivial encoder: values.
      Probe("ib.optimal_encoder", ib.optimal_encoder, {"beta": 5.0}, {"beta": "positive"},
            {"spectrum": spectrum}, edges=frozenset({("beta", "zero")})),
      Probe("ib.ib_point", ib.ib_point, {"beta": 5.0}, {"beta": "positive"},
            {"spectrum": spectrum}, edges=frozenset({("beta", "zero")})),
      Probe("ib.ib_curve", ib.ib_curve, {"i_tx": 1.5}, {"i_tx": "positive"},
            {"spectrum": spectrum}, edges=frozenset({("i_tx", "zero")})),
      Probe("ib.diagonal_gaussian_kl_to_standard_normal",
            ib.diagonal_gaussian_kl_to_standard_normal,
            {"mean": _X, "log_var": 0.1 * _X}, {"mean": "real", "log_var": "real"}),
      Probe("ib.reparameterize", ib.reparameterize,
            {"mean": _MEAN, "log_var": np.zeros(2), "num_samples": 4},
            {"mean": "real", "log_var": "real", "num_samples": "count"}, {"key": _KEY}),
      Probe("ib.vib_loss", ib.vib_loss,
            {"mean": _X[:4], "log_var": np.zeros((4, 2)), "beta": 0.1, "num_samples": 3},
            {"mean": "real", "log_var": "real", "beta": "positive", "num_samples": "count"},
            {"key": _KEY, "negative_log_likelihood": lambda t: 0.5 * jnp.sum(t**2, axis=-1)},
            edges=frozenset({("beta", "zero"), ("mean", "empty"), ("log_var", "empty")})),
      Probe("ib.cs_ib_loss", ib.cs_ib_loss,
            {"x": _X, "y": _X[:, :1], "y_pred": _X[:, :1] + 0.1, "t": _X + 0.2, "beta": 0.5,
             "sigma_x": 1.0, "sigma_y": 1.0, "sigma_t": 1.0},
            {"x": "samples", "y": "points", "y_pred": "points", "t": "samples",
             "beta": "positive", "sigma_x": "positive", "sigma_y": "positive",
             "sigma_t": "positive"},
            edges=frozenset({("beta", "zero")})),
      Probe("ib.gaussian_w1_1d", ib.gaussian_w1_1d,
            {"mean_p": 0.0, "std_p": 1.0, "mean_q": 1.0, "std_q": 2.0},
            {"mean_p": "scalar", "std_p": "positive", "mean_q": "scalar", "std_q": "positive"},
            edges=frozenset({("mean_p", "zero"), ("mean_p", "negative"), ("mean_q", "zero"),
                             ("mean_q", "negative"), ("std_p", "zero"), ("std_q", "zero")})),
      Probe("ib.network_rank", lambda weights, **kw: ib.network_rank([weights, w1], **kw),
            {"weights": w0}, {"weights": "matrix"}, targets=(ib.network_rank,),
            jit=False),  # the rank is an integer from an SVD threshold: an eager-only function
      Probe("ib.linear_gaussian_layer_kl",
            lambda weights, n: ib.linear_gaussian_layer_kl([weights, w1], n=n),
            {"weights": w0, "n": 10.0}, {"weights": "matrix", "n": "positive"},
            targets=(ib.linear_gaussian_layer_kl,),
            edges=frozenset({("weights", "mismatch")})),
      Probe("ib.linear_gaussian_noisy_layer_kl",
            lambda weights, noise_scales, n, input_scale: ib.linear_gaussian_noisy_layer_kl(
                [weights, w1], noise_scales, n=n, input_scale=input_scale),
            {"weights": w0, "noise_scales": np.ones(2), "n": 10.0, "input_scale": 1.0},
            {"weights": "matrix", "noise_scales": "positive", "n": "positive",
             "input_scale": "positive"},
            targets=(ib.linear_gaussian_noisy_layer_kl,),
            edges=frozenset({("weights", "mismatch")})),
      Probe("ib.linear_gaussian_output_kl",
            lambda weights, mean, n: ib.linear_gaussian_output_kl(
                _KEY, [weights, w1], mean, n=n, num_samples=256, num_grid=64),
            {"weights": w0, "mean": mean3, "n": 10.0},
            {"weights": "matrix", "mean": "mean", "n": "positive"},
            targets=(ib.linear_gaussian_output_kl,)),
      Probe("ib.linear_gaussian_squared_loss_gap",
            lambda weights, mean, n: ib.linear_gaussian_squared_loss_gap([weights, w1], mean, n=n),
            {"weights": w0, "mean": mean3, "n": 10.0},
            {"weights": "matrix", "mean": "mean", "n": "positive"},
            targets=(ib.linear_gaussian_squared_loss_gap,)),
      Probe("ib.linear_gaussian_bounds",
            lambda weights, mean, n: ib.linear_gaussian_bounds(_KEY, [weights, w1], mean, n=n,
                                                               num_samples=256),
            {"weights": w0, "mean": mean3, "n": 10.0},
            {"weights": "matrix", "mean": "mean", "n": "positive"},
            targets=(ib.linear_gaussian_bounds,)),
      Probe("ib.dropout_contraction", ib.dropout_contraction, {"width": 2.0, "rate": 0.5},
            {"width": "positive", "rate": "unit"}),
      Probe("ib.dropconnect_contraction", ib.dropconnect_contraction,
            {"fan_in": 2.0, "fan_out": 3.0, "rate": 0.5},
            {"fan_in": "positive", "fan_out": "positive", "rate": "unit"}),
      Probe("ib.gaussian_noise_contraction", ib.gaussian_noise_contraction,
            {"width": 2.0, "bound": 1.0, "noise_scale": 1.0},
            {"width": "positive", "bound": "positive", "noise_scale": "positive"}),
      Probe("ib.contracted_kl_bound", ib.contracted_kl_bound,
            {"kl": 2.0, "etas": np.array([0.5, 0.8])}, {"kl": "positive", "etas": "unit"},
            edges=frozenset({("kl", "zero")})),
      Probe("ib.tv_contraction_coefficient", ib.tv_contraction_coefficient,
            {"channel": _CHANNEL}, {"channel": "prob"}),
      Probe("ib.kl_contraction_lower_bound", ib.kl_contraction_lower_bound,
            {"channel": _CHANNEL, "num_restarts": 2, "num_steps": 20},
            {"channel": "prob", "num_restarts": "count", "num_steps": "count"}, {"key": _KEY}),
      Probe("ib.gibbs_generalization", ib.gibbs_generalization,
            {"losses": np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]),
             "data_probs": np.array([0.7, 0.3]), "gamma": 2.0, "n": 3,
             "prior_logits": np.zeros(3)},
            {"losses": "matrix", "data_probs": "prob", "gamma": "positive", "n": "count",
             "prior_logits": "logits"}),
  ]
  return probes


# ---------------------------------------------------------------------------------------------------
# divjax.ot


def ot_probes() -> list[Probe]:
  a = np.full(12, 1 / 12)
  cost = np.abs(np.arange(4)[:, None] - np.arange(3)[None, :]).astype(float)
  ha, hb = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.5, 0.3, 0.2])
  zs, zt = _X[:4] @ np.ones((2, 3)) * 0.3, _Y[:4] @ np.ones((2, 3)) * 0.5
  probes = [
      Probe("ot.sinkhorn_cost", ot.sinkhorn_cost, {"x": _X, "y": _Y, "epsilon": 0.5},
            {"x": "points", "y": "points", "epsilon": "positive"}),
      Probe("ot.sinkhorn_cost(weights, options)",
            lambda x, y, a, epsilon, max_iterations: ot.sinkhorn_cost(
                x, y, a, epsilon=epsilon, options=ot.SinkhornOptions(max_iterations=max_iterations)),
            {"x": _X, "y": _Y, "a": a, "epsilon": 0.5, "max_iterations": 200},
            {"a": "prob", "max_iterations": "count"}, targets=(ot.sinkhorn_cost,)),
      Probe("ot.sinkhorn_divergence", ot.sinkhorn_divergence, {"x": _X, "y": _Y, "epsilon": 0.5},
            {"x": "points", "y": "points", "epsilon": "positive"}),
      Probe("ot.histogram_sinkhorn_cost", ot.histogram_sinkhorn_cost,
            {"a": ha, "b": hb, "cost_matrix": cost, "epsilon": 0.5},
            {"a": "prob", "b": "prob", "cost_matrix": "matrix", "epsilon": "positive"}),
      Probe("ot.histogram_sinkhorn_divergence",
            lambda a, b, epsilon: ot.histogram_sinkhorn_divergence(
                a, b, np.abs(np.arange(4)[:, None] - np.arange(4)[None, :]).astype(float),
                epsilon=epsilon),
            {"a": ha, "b": np.array([0.4, 0.3, 0.2, 0.1]), "epsilon": 0.5},
            {"a": "prob", "b": "prob", "epsilon": "positive"},
            targets=(ot.histogram_sinkhorn_divergence,)),
      Probe("ot.batched_sinkhorn_cost", ot.batched_sinkhorn_cost,
            {"x": np.stack([_X[:5], _X[5:10]]), "y": np.stack([_Y[:4], _Y[4:8]]), "epsilon": 0.5},
            {"x": "real", "y": "real", "epsilon": "positive"}, {"method": "vmap"}),
      Probe("ot.pairwise_cost", ot.pairwise_cost,
            {"p": np.stack([_P, _Q]), "q": np.stack([_Q, _P, _P])},
            {"p": "points", "q": "points"},  # any rows (SinKD passes probabilities)
            edges=frozenset({("p", "empty"), ("q", "empty")})),  # no rows: an empty cost matrix
      Probe("ot.sinkd_loss", ot.sinkd_loss,
            {"student_logits": zs, "teacher_logits": zt, "temperature": 2.0, "epsilon": 0.1,
             "num_iterations": 10},
            {"student_logits": "matrix", "teacher_logits": "matrix", "temperature": "positive",
             "epsilon": "positive", "num_iterations": "count"}),
      Probe("ot.entropy_gap_weights", ot.entropy_gap_weights,
            {"h_teacher": np.array([0.5, 1.0]), "h_student": np.array([1.0, 0.5])},
            {"h_teacher": "real", "h_student": "real"}),
      Probe("ot.equal_weights", ot.equal_weights,
            {"h_teacher": np.array([0.5, 1.0]), "h_student": np.array([1.0, 0.5])},
            {"h_teacher": "real", "h_student": "real"}),
      Probe("ot.kd_divergence", ot.kd_divergence,
            {"student_logits": zs, "teacher_logits": zt, "temperature": 2.0},
            {"student_logits": "matrix", "teacher_logits": "matrix", "temperature": "positive"}),
      Probe("ot.distillation_loss", ot.distillation_loss,
            {"student_logits": zs, "teacher_logits": zt, "labels": np.array([0, 1, 2, 0]),
             "kd_weight": 0.9, "beta": 0.5},
            {"student_logits": "matrix", "teacher_logits": "matrix", "kd_weight": "unit",
             "beta": "positive"},
            edges=frozenset({("beta", "zero"), ("kd_weight", "zero"), ("kd_weight", "tiny")})),
      Probe("ot.kd_divergence(alpha)", ot.kd_divergence,
            {"student_logits": zs, "teacher_logits": zt, "alpha": 0.3},
            {"alpha": "scalar"}, {"kind": "alpha"},
            # Every real α is an order of the α-divergence (0 and 1 are the KL limits).
            edges=frozenset({("alpha", "zero"), ("alpha", "negative")}), static=("alpha",)),
  ]
  return probes


def all_probes() -> list[Probe]:
  return [*divergence_probes(), *kde_probes(), *expfam_probes(), *games_probes(),
          *alignment_probes(), *ib_probes(), *ot_probes()]


#: Public functions with nothing to break, and why.
EXEMPT = {
    "divjax.expfam.bernoulli": "no arguments",
    "divjax.expfam.poisson": "no arguments",
    "divjax.expfam.exponential": "no arguments",
    "divjax.expfam.gamma": "no arguments",
    "divjax.expfam.normal": "no arguments",
    "divjax.ot.default_batch_method": "a backend name only (a str; unknown names are tested in "
                                      "tests/test_ot.py)",
    "divjax.plotting": "figure styling (no numerical inputs)",
}
