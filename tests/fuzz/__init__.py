"""Fuzzing machinery and the probes of every public function (see tests/test_fuzz.py)."""
