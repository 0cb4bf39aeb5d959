"""cs_ib_regression: helpers against independent oracles, and the quick config end to end."""

import json
import math

import jax.numpy as jnp
import numpy as np
import pytest

from experiments import cs_ib_regression as exp
from tests.experiments._quick import run_quick


def test_bayes_rmse_matches_monte_carlo():
  # 10⁶ draws of s(x)²: SE of the mean ≈ 2e-4 (relative); tolerance 5 SE.
  rng = np.random.default_rng(0)
  x = rng.normal(size=(1_000_000, 5))
  mc = np.mean(exp.synthetic_noise_sd(x)**2)
  se = np.std(exp.synthetic_noise_sd(x)**2) / 1000
  assert abs(exp.synthetic_bayes_rmse()**2 - mc) < 5 * se


def test_synthetic_residuals_of_the_true_mean_have_the_bayes_rmse():
  x, y = exp.make_synthetic(200_000, 5, seed=3)
  rmse = np.sqrt(np.mean((y - exp.synthetic_mean(x))**2))
  assert abs(rmse - exp.synthetic_bayes_rmse()) < 0.005  # SE ≈ 0.001


def test_splits_are_disjoint_sized_and_standardised_on_train():
  config = exp.Config.quick()
  sp = exp.load_dataset("diabetes", config, 0)
  assert len(sp["y_train"]) + len(sp["y_val"]) + len(sp["y_test"]) == 442
  assert len(sp["y_test"]) == 88 and len(sp["y_val"]) == 88
  np.testing.assert_allclose(sp["x_train"].mean(0), 0, atol=1e-12)
  np.testing.assert_allclose(sp["x_train"].std(0), 1, atol=1e-9)
  np.testing.assert_allclose([sp["y_train"].mean(), sp["y_train"].std()], [0, 1], atol=1e-12)
  from sklearn.datasets import load_diabetes
  _, y = load_diabetes(return_X_y=True)
  assert sp["y_scale"] == pytest.approx(np.std(y), rel=0.1)  # the training split's sd of y
  other = exp.load_dataset("diabetes", config, 1)
  assert not np.allclose(other["y_test"], sp["y_test"])  # each seed has its own split


def test_rms_distance_is_the_root_mean_square_pairwise_distance():
  t = np.random.default_rng(1).normal(size=(40, 3)) * [1.0, 2.0, 0.5]
  d2 = ((t[:, None] - t[None]) ** 2).sum(-1)
  np.testing.assert_allclose(exp.rms_distance(jnp.asarray(t)), np.sqrt(d2.mean()), rtol=1e-5)


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
  """`python -m experiments run cs_ib_regression --out <tmp>` (quick scale)."""
  return run_quick("cs_ib_regression", tmp_path_factory)


@pytest.mark.slow
def test_quick_run_passes_every_check(quick_results):
  _, results = quick_results
  assert results["checks"] and all(results["checks"].values()), results["checks"]
  assert results["gap"]["value"] < results["gap"]["tolerance"]
  assert results["metadata"]["status"] == "ok"


@pytest.mark.slow
def test_quick_run_writes_every_artifact(quick_results):
  folder, _ = quick_results
  for name in ("results.json", "figure.png", "figure.pdf", "runs.csv", "selected.csv",
               "information_plane.csv", "fgsm.csv"):
    assert (folder / name).stat().st_size > 0, name


@pytest.mark.slow
def test_beta_is_selected_on_validation_not_test(quick_results):
  _, results = quick_results
  runs = results["tables"]["runs"]
  assert len({r["seed"] for r in runs}) >= 5
  for sel in results["tables"]["selected"]:
    cands = [r for r in runs if r["dataset"] == sel["dataset"] and r["method"] == sel["method"]
             and r["seed"] == sel["seed"]]
    assert sel["val_rmse"] == min(r["val_rmse"] for r in cands)


@pytest.mark.slow
def test_reported_means_and_standard_errors_match_the_selected_rows(quick_results):
  _, results = quick_results
  for ds, per in results["summary"]["datasets"].items():
    for method, s in per.items():
      v = [r["test_rmse"] for r in results["tables"]["selected"]
           if r["dataset"] == ds and r["method"] == method]
      np.testing.assert_allclose(s["test_rmse_mean"], np.mean(v), rtol=1e-12)
      np.testing.assert_allclose(s["test_rmse_se"], np.std(v, ddof=1) / math.sqrt(len(v)), rtol=1e-9)
