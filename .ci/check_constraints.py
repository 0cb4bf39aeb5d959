"""Checks that every package installed in this environment is pinned, at that version, in the
constraints file given as the first argument (the tested set that makes a run reproducible).

A dependency added to pyproject.toml without refreshing constraints.txt fails here. Refresh with
``python .ci/check_constraints.py constraints.txt --write`` in a venv made as .ci/run makes it.
"""

import importlib.metadata
import pathlib
import re
import sys

IGNORED = {"divjax", "pip", "setuptools", "wheel"}  # the project itself and the venv's own tools


def canonical(name: str) -> str:
  return re.sub(r"[-_.]+", "-", name).lower()


path = pathlib.Path(sys.argv[1])
installed = {canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
installed = {k: v for k, v in installed.items() if k not in IGNORED}

if "--write" in sys.argv[2:]:
  old = {}
  if path.exists():
    for line in path.read_text().splitlines():
      if "==" in line and not line.startswith("#"):
        name, version = line.split("==")
        old[canonical(name)] = version.strip()
  merged = {**old, **installed}
  header = ("# Tested versions of every package divjax's README commands, the docs extra and CI\n"
            "# install (Python 3.11, CPU). Used as: pip install -e \".[test]\" -c constraints.txt\n"
            "# Refresh: python .ci/check_constraints.py constraints.txt --write (see that file).\n")
  path.write_text(header + "".join(f"{k}=={merged[k]}\n" for k in sorted(merged)))
  print(f"wrote {len(merged)} pins to {path}")
  sys.exit(0)

pins = {}
for line in path.read_text().splitlines():
  line = line.split("#")[0].strip()
  if line:
    name, _, version = line.partition("==")
    pins[canonical(name)] = version.strip()

problems = [f"{k}=={v} is installed but not pinned" for k, v in installed.items() if k not in pins]
problems += [f"{k}=={v} is installed but {path} pins {pins[k]}" for k, v in installed.items()
             if k in pins and pins[k] != v]
if problems:
  sys.exit(f"{path} does not describe this environment:\n  " + "\n  ".join(sorted(problems)))
print(f"all {len(installed)} installed packages are pinned in {path}")
