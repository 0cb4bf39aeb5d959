"""Every notebook in notebooks/ executes top to bottom (its cells assert the reproduction's checks).

The kernel runs in a temporary folder, so ``experiments`` (which is not installed with divjax) comes
from the checkout through ``PYTHONPATH``; the quick runs come from the session's ``DIVJAX_RESULTS``.
The kernel compiles with XLA's default settings, as a user's would (``subprocess_env``).
"""

import os
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

from tests.experiments._quick import subprocess_env

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
  assert NOTEBOOKS, "notebooks/ has no .ipynb"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
  monkeypatch.setenv("XLA_FLAGS", subprocess_env().get("XLA_FLAGS", ""))
  monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
  nb = nbformat.read(path, as_version=4)
  client = NotebookClient(nb, timeout=900, kernel_name="python3",
                          resources={"metadata": {"path": str(tmp_path)}})
  client.execute()
  errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
            if o.get("output_type") == "error"]
  assert not errors
