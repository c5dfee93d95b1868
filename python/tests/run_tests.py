#!/usr/bin/env python3
"""ctest python_package: runs python/tests/test_*.py (unittest) on the package in
python/laperm. Exit 77 (skipped) when this Python has no h5py or numpy; tests that need
torch skip themselves with a message when it is missing. test_run.py trains small runs
with the laperm binary (LAPERM_BINARY, default build/laperm) on MNIST (LAPERM_DATA_DIR,
default data/mnist).

usage: /usr/bin/python3 python/tests/run_tests.py [-v] [test name patterns...]
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # python/: the package, with no install

try:
    import h5py  # noqa: F401
    import numpy  # noqa: F401
except ImportError as e:
    print("python_package: %s has no h5py/numpy (%s): skipped" % (sys.executable, e))
    sys.exit(77)


def main(argv):
    verbosity = 2 if "-v" in argv else 1
    patterns = [a for a in argv if a != "-v"]
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = ["*%s*" % p for p in patterns]
    suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    result = unittest.TextTestRunner(verbosity=verbosity).run(suite)
    for test, why in result.skipped:
        print("skipped: %s: %s" % (test.id(), why))
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
