"""alignment_asymptotics: the quick config end to end, its numbers against independent oracles.

Oracles written here, independent of divjax.alignment: the best-of-N law F^N − F⁻^N of distinct rewards
in NumPy (the random problems regenerated from the same seed), scipy's binomial tails for the
memoryless source (BoN law of S, the exact tail probability under φ_λ = Binomial(L, q_λ)), and the
Bernoulli closed forms of q_λ and the rate I_λ(x) = KL(Bern(x)‖Bern(q_λ)).
"""

import json
import math

import numpy as np
import pytest
from scipy import optimize, special, stats

from experiments import alignment_asymptotics as aa
from tests.experiments._quick import run_quick


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
  """`python -m experiments run alignment_asymptotics --out <tmp>` (quick scale)."""
  return run_quick(aa.NAME, tmp_path_factory)


def bern_kl(a, b):
  return a * math.log(a / b) + (1 - a) * math.log((1 - a) / (1 - b))


@pytest.mark.slow
def test_quick_run_passes_every_check(quick_results):
  _, results = quick_results
  assert results["checks"] and all(results["checks"].values()), results["checks"]
  assert results["gap"]["value"] < results["gap"]["tolerance"]
  assert results["metadata"]["status"] == "ok"


@pytest.mark.slow
def test_quick_run_writes_every_artifact(quick_results):
  folder, _ = quick_results
  for name in ("results.json", "figure.png", "figure.pdf", "bon_kl.csv", "bon_kl_mean.csv",
               "token.csv"):
    assert (folder / name).stat().st_size > 0, name


@pytest.mark.slow
def test_bon_kl_rows_match_a_numpy_recomputation(quick_results):
  # Regenerate the random problems exactly as run() draws them and recompute KL(BoN‖p) directly.
  _, results = quick_results
  cfg = results["metadata"]["config"]
  rng = np.random.default_rng(results["metadata"]["seed"])
  rows = {(r["outcomes"], r["problem"], r["N"]): r for r in results["tables"]["bon_kl"]}
  checked = 0
  for size in cfg["outcome_sizes"]:
    for k in range(cfg["n_problems"]):
      p = rng.dirichlet(np.full(size, cfg["concentration"]))
      r = rng.normal(size=size)
      if size > 64 or k > 1:
        continue
      order = np.argsort(r)
      cdf = np.cumsum(p[order])
      for n in cfg["bon_ns"]:
        law = np.empty(size)
        law[order] = cdf**n - np.concatenate([[0.0], cdf[:-1]])**n
        m = law > 0
        kl = float(np.sum(law[m] * np.log(law[m] / p[m])))
        row = rows[(size, k, n)]
        np.testing.assert_allclose(row["kl"], kl, rtol=1e-9, atol=1e-12)
        assert row["kl"] <= math.log(n) - (n - 1) / n
        checked += 1
  assert checked > 20
  for row in results["tables"]["bon_kl"]:
    assert row["kl_bound"] == pytest.approx(math.log(row["N"]) - (row["N"] - 1) / row["N"], rel=1e-12)
    assert row["kl"] <= row["kl_bound"] + 1e-12


@pytest.mark.slow
def test_memoryless_source_against_scipy_binomial(quick_results):
  _, results = quick_results
  t = results["summary"]["token"]
  q, delta, x = t["q"], t["delta"], t["x"]
  q_lam = optimize.brentq(lambda s: bern_kl(s, q) - delta, q, 1 - 1e-12, xtol=1e-15)
  assert t["q_lambda"] == pytest.approx(q_lam, rel=1e-12)
  assert t["rate"] == pytest.approx(bern_kl(x, q_lam), rel=1e-10)
  for row in results["tables"]["token"]:
    L = row["L"]
    # the exact tail under φ_λ = Binomial(L, q_λ), by scipy
    s0 = math.ceil(x * L - 1e-9)
    assert row["ldp_exponent"] == pytest.approx(-stats.binom.logsf(s0 - 1, L, q_lam) / L, rel=1e-8)
    assert row["tilt_reward_per_token"] == pytest.approx(q_lam, rel=1e-12)
    if L > 300:
      continue
    # BoN law of S with N = e^{LΔ}: F^N − F⁻^N, F from scipy's survival function.
    s = np.arange(L + 1)
    n = math.exp(L * delta)
    with np.errstate(divide="ignore"):
      log_f = np.log1p(-stats.binom.sf(s, L, q))
    log_f_minus = np.concatenate([[-np.inf], log_f[:-1]])
    law = np.exp(n * log_f) - np.exp(n * log_f_minus)
    assert row["bon_reward_per_token"] == pytest.approx(law @ s / L, rel=1e-9)
    logp = stats.binom.logpmf(s, L, q)
    m = law > 0
    kl = float(np.sum(law[m] * (np.log(law[m]) - logp[m])))
    assert row["bon_kl_to_ref_per_token"] == pytest.approx(kl / L, rel=1e-8)
    assert row["bon_kl_to_ref_per_token"] <= row["bon_kl_bound_per_token"]


@pytest.mark.slow
def test_per_token_convergence_at_the_largest_length(quick_results):
  _, results = quick_results
  last = results["tables"]["token"][-1]
  t = results["summary"]["token"]
  assert abs(last["bon_reward_per_token"] - t["q_lambda"]) < 1e-3
  assert abs(last["bon_kl_to_ref_per_token"] - t["delta"]) < 1e-3
  assert last["bon_kl_to_tilt_per_token"] < 1e-3
  assert 0.4 < results["summary"]["bon_kl_to_tilt_log_L_slope"] < 0.6


def test_configs_are_consistent():
  quick, paper = aa.Config.quick(), aa.Config.paper()
  assert max(paper.outcome_sizes) > max(quick.outcome_sizes)
  assert max(paper.lengths) > max(quick.lengths)
  assert all(0 < x < 1 for x in (quick.token_prob, quick.ldp_level))
