"""gaussian_ib: the experiment's helpers against independent oracles, and the quick config end to end."""

import json
import math

import jax
import numpy as np
import pytest
from scipy import optimize

from divjax import ib
from experiments import gaussian_ib
from tests.experiments._quick import run_quick


def test_vib_population_optimum_of_a_scalar_problem_matches_a_root_find():
  # n_x = n_y = 1, correlation ρ: minimise −I_Y(a) + a²/(2β), I_Y = ½log(1+u) − ½log(1+u(1−ρ²)), u = a².
  rho, beta = 0.8, 6.0
  with jax.enable_x64(True):
    s = ib.gaussian_ib_spectrum(np.eye(1), np.array([[rho]]), np.eye(1))
    got = gaussian_ib.vib_population_optimum(s, beta)
  dfdu = lambda u: -0.5 / (1 + u) + 0.5 * (1 - rho**2) / (1 + u * (1 - rho**2)) + 0.5 / beta
  u = optimize.brentq(dfdu, 1e-9, 1e6, xtol=1e-14)
  want_x = 0.5 * math.log(1 + u)
  want_y = want_x - 0.5 * math.log(1 + u * (1 - rho**2))
  np.testing.assert_allclose(got, (want_x, want_y), atol=1e-7)


def test_random_problem_is_a_valid_joint_covariance():
  cx, cxy, cy = gaussian_ib.random_problem(6, 4, 0)
  joint = np.block([[cx, cxy], [cxy.T, cy]])
  assert np.linalg.eigvalsh(joint).min() > 0.09  # ridge 0.1


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
  """`python -m experiments run gaussian_ib --out <tmp>` (quick scale)."""
  return run_quick("gaussian_ib", tmp_path_factory)


@pytest.mark.slow
def test_quick_run_passes_every_check(quick_results):
  _, results = quick_results
  assert results["checks"] and all(results["checks"].values()), results["checks"]
  assert results["gap"]["value"] < results["gap"]["tolerance"]
  assert results["metadata"]["status"] == "ok"


@pytest.mark.slow
def test_quick_run_writes_every_artifact(quick_results):
  folder, _ = quick_results
  for name in ("results.json", "figure.png", "figure.pdf", "curves.csv", "random_encoders.csv",
               "trained.csv", "cs_qmi.csv"):
    assert (folder / name).stat().st_size > 0, name


@pytest.mark.slow
def test_canonical_critical_points_match_the_closed_form(quick_results):
  # Spec E.3: λ = (0.19, 0.75); at β₂ᶜ = 4 only component 1 is active.
  _, results = quick_results
  spec = results["summary"]["spectra"]["canonical"]
  np.testing.assert_allclose(spec["eigenvalues"], [0.19, 0.75], atol=1e-12)
  p = spec["critical_points"][1]
  i_x = 0.5 * math.log(3 * 0.81 / 0.19)
  np.testing.assert_allclose([p["i_tx"], p["i_ty"]], [i_x, i_x - 0.5 * math.log(4 * 0.81)], atol=1e-9)


@pytest.mark.slow
def test_every_trained_point_is_below_the_curve_and_vib_matches_its_optimum(quick_results):
  _, results = quick_results
  for row in results["tables"]["trained"]:
    assert row["i_ty"] <= row["i_ty_curve"] + 1e-9
    if row["method"] == "vib":
      assert row["distance_to_vib_optimum"] < results["gap"]["tolerance"]
