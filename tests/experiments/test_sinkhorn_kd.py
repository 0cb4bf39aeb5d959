"""sinkhorn_kd: the ECE helper against a direct numpy count, and the quick config end to end."""

import json

import numpy as np
import pytest
from scipy.special import softmax

from experiments import sinkhorn_kd
from tests.experiments._quick import run_quick


def numpy_ece(logits, labels, n_bins):
  p = softmax(logits, axis=-1)
  conf, pred = p.max(-1), p.argmax(-1)
  total = 0.0
  for b in range(n_bins):
    lo, hi = b / n_bins, (b + 1) / n_bins
    inside = (conf >= lo) & ((conf < hi) if b < n_bins - 1 else (conf <= hi))
    if inside.any():
      total += inside.mean() * abs((pred[inside] == labels[inside]).mean() - conf[inside].mean())
  return total


def test_ece_matches_numpy_binning():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(500, 10)) * 3
  labels = rng.integers(0, 10, size=500)
  got = sinkhorn_kd.expected_calibration_error(logits, labels, n_bins=15)
  np.testing.assert_allclose(got, numpy_ece(logits, labels, 15), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
  """README command 1 for this experiment: `python -m experiments run sinkhorn_kd` (quick scale)."""
  return run_quick("sinkhorn_kd", tmp_path_factory)


@pytest.mark.slow
def test_quick_run_passes_its_checks(quick_results):
  _, results = quick_results
  assert all(results["checks"].values()), results["checks"]
  assert results["gap"]["value"] < results["gap"]["tolerance"]


@pytest.mark.slow
def test_quick_run_reports_every_loss_with_standard_errors(quick_results):
  folder, results = quick_results
  for name in ("results.json", "per_seed.csv", "per_loss.csv", "comparisons.csv", "figure.png"):
    assert (folder / name).stat().st_size > 0, name
  rows = results["tables"]["per_loss"]
  assert [r["loss"] for r in rows] == list(sinkhorn_kd.LOSSES)
  n_seeds = results["metadata"]["config"]["n_seeds"]
  assert n_seeds >= 5
  per_seed = results["tables"]["per_seed"]
  for r in rows:
    acc = np.array([s["accuracy"] for s in per_seed if s["loss"] == r["loss"]])
    assert len(acc) == n_seeds
    np.testing.assert_allclose(r["accuracy"], acc.mean(), rtol=1e-6)
    np.testing.assert_allclose(r["accuracy_se"], acc.std(ddof=1) / np.sqrt(n_seeds), rtol=1e-6)
  # The paired differences against the baseline, recomputed from the per-seed table.
  base = {s["seed"]: s for s in per_seed if s["loss"] == sinkhorn_kd.BASELINE}
  for c in results["tables"]["comparisons"]:
    d = np.array([s[c["metric"]] - base[s["seed"]][c["metric"]] for s in per_seed
                  if s["loss"] == c["loss"]])
    se = d.std(ddof=1) / np.sqrt(len(d))
    np.testing.assert_allclose([c["diff"], c["se"]], [d.mean(), se], rtol=1e-5, atol=1e-7)
    assert c["within_noise"] == (abs(d.mean()) < 2 * se)
