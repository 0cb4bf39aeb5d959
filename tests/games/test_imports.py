"""The divjax.games modules import each other without a cycle, counting imports inside functions.

Oracle: the import statements themselves (the module sources, parsed with ``ast``), and a fresh
interpreter importing each module on its own.
"""

import ast
import pathlib
import subprocess
import sys

import pytest

import divjax

ROOT = pathlib.Path(divjax.__file__).resolve().parent
GAMES = sorted(p.stem for p in (ROOT / "games").glob("*.py") if p.stem != "__init__")


def _games_imports(module: str) -> set[str]:
  """The divjax.games modules that ``module`` imports anywhere in its source (top level or lazily)."""
  tree = ast.parse((ROOT / "games" / f"{module}.py").read_text())
  found = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.ImportFrom) and node.module:
      if node.module == "divjax.games":
        found |= {a.name for a in node.names if a.name in GAMES}
      elif node.module.startswith("divjax.games."):
        found.add(node.module.split(".")[2])
    elif isinstance(node, ast.Import):
      found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("divjax.games.")}
  return found - {module}


def test_the_games_import_graph_has_no_cycle():
  graph = {m: _games_imports(m) for m in GAMES}
  order, done, path = [], set(), []

  def visit(m):
    if m in path:
      raise AssertionError("import cycle: " + " -> ".join(path[path.index(m):] + [m]))
    if m in done:
      return
    path.append(m)
    for dep in sorted(graph[m]):
      visit(dep)
    path.pop()
    done.add(m)
    order.append(m)

  for m in GAMES:
    visit(m)
  assert order.index("equilibrium") < order.index("trajectory") < order.index("nash_mp")


@pytest.mark.parametrize("module", GAMES)
def test_each_module_imports_first_in_a_fresh_interpreter(module):
  code = f"import divjax.games.{module} as m; print(m.__name__)"
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
