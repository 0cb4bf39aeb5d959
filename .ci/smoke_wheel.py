"""Smoke test of the installed wheel, run from outside the checkout in a second fresh venv.

Checks that the distribution is only ``divjax`` (no generic ``experiments`` top-level name), that
it ships ``py.typed``, that ``import divjax`` is lazy, and calls one function of every area against
a closed form. Exits non-zero on the first failure.
"""

import importlib.metadata
import importlib.util
import math
import pathlib
import subprocess
import sys
import time

here = pathlib.Path.cwd()
assert not (here / "divjax").exists(), f"run this outside the checkout, not in {here}"

dist = importlib.metadata.distribution("divjax")
top = {pathlib.PurePosixPath(str(f)).parts[0] for f in dist.files or []}
top = {t for t in top if not t.endswith((".dist-info", ".data"))}
assert top == {"divjax"}, f"the wheel installs top-level names {sorted(top)}, expected only divjax"
assert importlib.util.find_spec("experiments") is None, "an 'experiments' module is importable"
print(f"wheel {dist.version}: top-level names {sorted(top)}; 'experiments' not installed")

t0 = time.perf_counter()
out = subprocess.run([sys.executable, "-c", "import sys, divjax; print('jax' in sys.modules)"],
                     capture_output=True, text=True, check=True)
assert out.stdout.strip() == "False", "import divjax imported jax eagerly"
print(f"import divjax (fresh interpreter, lazy areas): {time.perf_counter() - t0:.2f} s wall")

import divjax  # noqa: E402

site = pathlib.Path(divjax.__file__).resolve().parent
assert (site / "py.typed").is_file(), "py.typed missing from the wheel"
assert "site-packages" in str(site), f"divjax imported from {site}, not from the venv"

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402


def close(name, got, expected, tol=1e-4):
  got = float(got)
  assert abs(got - expected) <= tol * max(1.0, abs(expected)), f"{name}: {got} != {expected}"
  print(f"  {name:<40s} {got:.6g}  (expected {expected:.6g})")


p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
close("divergences.kl_divergence", divjax.divergences.kl_divergence(p, q),
      0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1))
close("divergences.gaussian_kl_divergence",
      divjax.divergences.gaussian_kl_divergence(jnp.zeros(1), jnp.eye(1), jnp.ones(1), jnp.eye(1)), 0.5)
fam = divjax.expfam.normal()
close("expfam.bregman_kl_divergence (normal)",
      divjax.expfam.bregman_kl_divergence(fam, jnp.array([0.0, -0.5]), jnp.array([1.0, -0.5])), 0.5)
x = jnp.zeros((1, 2))
close("kde.log_density (one point)", divjax.kde.log_density(x, x, 1.0)[0], -math.log(2 * math.pi))
game = divjax.games.preference_game(jnp.full((3, 3), 0.5), beta=1.0)
close("games.exploitability (uniform)", divjax.games.exploitability(game, jnp.log(jnp.ones(3) / 3)), 0.0)
close("alignment.best_of_n_kl_bound(4)", divjax.alignment.best_of_n_kl_bound(4), math.log(4) - 0.75)
# One covariance: D_CS = KL = ½|Δμ|² (the one CS convention).
close("ib.gaussian_cs_divergence (one covariance)",
      divjax.ib.gaussian_cs_divergence(jnp.zeros(2), jnp.eye(2), jnp.ones(2), jnp.eye(2)), 1.0)
pts = jnp.array([[0.0, 0.0], [1.0, 0.0]])
close("ot.pairwise_cost (l1)", divjax.ot.pairwise_cost(pts, pts, ground_cost="l1")[0, 1], 1.0)
res = divjax.ot.sinkhorn_divergence(pts, pts, epsilon=0.1)
close("ot.sinkhorn_divergence (same cloud)", np.asarray(res.value), 0.0, tol=1e-3)
fig, _ = divjax.plotting.new_figure(1, 1)
assert fig is not None
print("  plotting.new_figure                      ok")
print("wheel smoke test passed")
