"""Runs every experiment at a tiny size and prints a digest of its results (for the determinism test).

``python -m tests.experiments._determinism OUT [NAME ...]`` runs ``run(config)`` of each named
experiment (default: all) with the quick config shrunk by :data:`TINY`, at seed 0, and writes one
line per experiment to OUT: the name and the SHA-256 of its results as canonical JSON (timings and
other metadata left out, floats written with ``repr``, i.e. to the last bit). Two processes that
write the same file computed the same bits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sys
from typing import Any

import numpy as np

from experiments import _harness

#: Overrides of each experiment's quick config: the same code paths, sizes that run in seconds.
TINY: dict[str, dict[str, Any]] = {
    "alignment_asymptotics": dict(outcome_sizes=(2, 4, 8, 16), bon_ns=(2, 4), n_problems=2,
                                  lengths=(10, 30, 100)),
    "cs_ib_regression": dict(n_seeds=1, vib_betas=(1e-3,), cs_betas=(1e-2,), synthetic_n=200,
                             num_steps=20, epsilons=(0.0, 0.1)),
    "fdiv_modes": dict(a_values=(1.0, 3.0), n_inits=2, grid_points=201, num_steps=20,
                       newton_steps=2, ot_a_values=(3.0,), ot_epsilons=(1.0,), ot_n_samples=16,
                       ot_seeds=1, ot_steps=3, ot_population_nodes=1000),
    "gaussian_ib": dict(n_curve_betas=5, n_random_encoders=50, vib_betas=(5.0,), cs_betas=(0.1,),
                        n_seeds=1, num_steps=20, batch_size=32, cs_batch_size=16, qmi_betas=(2.0,),
                        qmi_samples=64, qmi_seeds=2),
    "kde_regimes": dict(phase_alphas=(0.02, 2.0, 10), h_grid=(0.8, 1.5), exact_dims=(20,),
                        mc_dims=(10,), n_sets=4, mc_batches=4, n_test=20, pr_ratios=(0.7, 1.3),
                        fluct_dim=10, fluct_sets=20),
    "layerwise_bounds": dict(bound_samples=256, output_kl_samples=128, output_kl_grid=101,
                             sim_reps=500, tv_samples=1000, chain_grid=101, gibbs_mc_reps=500,
                             kl_restarts=1, kl_steps=10),
    "mle_risk": dict(n_values=(10, 20, 50, 100), mc_replications=512, mc_batches=4,
                     t_n_values=(100,), t_replications=256, eps_points=5, datasets=("wine",),
                     slope_min_n=10, ratio_min_n=10),
    "nash_mp": dict(random_sizes=(10,), cyclic_sizes=(11,), random_starts=1,
                    sweep_instances=(("cyclic", 11, 0.01),), approx_outer=5,
                    approx_inner_steps=(1, 3), approx_reinforce_steps=3, approx_batch_sizes=(64,),
                    approx_seeds=1),
    "sinkhorn_kd": dict(n_seeds=1, teacher_hidden=(16,), teacher_steps=10, student_steps=10),
}


def _canonical(x: Any) -> Any:
  """Results as JSON-ready values with every float kept to the bit (repr), NaN/inf as strings."""
  if isinstance(x, dict):
    return {str(k): _canonical(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_canonical(v) for v in x]
  if isinstance(x, (float, np.floating)):
    return repr(float(x)) if math.isfinite(x) else str(float(x))
  return x


def digest(name: str) -> str:
  module = _harness.load(name)
  config = dataclasses.replace(module.Config.quick(), **TINY[name])
  results = _harness.to_jsonable(module.run(config, seed=0))
  results.pop("timings", None)
  text = json.dumps(_canonical(results), sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()


if __name__ == "__main__":
  out, names = sys.argv[1], sys.argv[2:] or sorted(TINY)
  with open(out, "w") as f:
    for name in names:
      f.write(f"{name} {digest(name)}\n")
      f.flush()
