"""benchmarks/_results.py: each script replaces only its own section of RESULTS.md."""

from benchmarks._results import write_section


def test_sections_are_replaced_independently_and_kept_in_order(tmp_path):
  path = tmp_path / "RESULTS.md"
  write_section("bench_ot", "ot v1\n", path)
  write_section("bench_divergences", "div v1\n", path)
  write_section("bench_ot", "ot v2\n", path)
  text = path.read_text()
  assert "ot v1" not in text and text.count("ot v2") == 1 and text.count("div v1") == 1
  assert text.index("div v1") < text.index("ot v2")  # ORDER puts divergences first
  assert text.startswith("# divjax benchmarks")
  assert list(tmp_path.iterdir()) == [path]  # no temp file left behind
