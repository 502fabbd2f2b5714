"""The base of the tests that run tools/import-model as a user does
(tests/onnx/test_import_model.py, tests/birefnet/test_birefnet.py): a
scratch models folder per test, the command, and reading back what it wrote.

Set ImportCommandCase.root to the repository before unittest runs.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import torch


class ImportCommandCase(unittest.TestCase):
    root = None  # the repository root; the test program sets it
    scratch_prefix = "cutout_import_test_"

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix=self.scratch_prefix)
        self.dest = os.path.join(self.tmp, "models")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_tool(self, *args):
        """tools/import-model ARGS --dir DEST with this test's Python, its
        output captured."""
        command = [os.path.join(self.root, "tools", "import-model"), *args, "--dir", self.dest]
        env = dict(os.environ, CUTOUT_PYTHON=sys.executable)
        return subprocess.run(command, capture_output=True, text=True, env=env)

    def imported(self, name):
        """(TorchScript module, its cutout_meta.json, its manifest entry) of model NAME."""
        files = {"cutout_meta.json": ""}
        module = torch.jit.load(os.path.join(self.dest, f"{name}.pt"), map_location="cpu", _extra_files=files)
        with open(os.path.join(self.dest, "manifest.json")) as f:
            entry = json.load(f)["models"][name]
        return module, json.loads(files["cutout_meta.json"]), entry

    def assert_refused(self, result, *parts):
        """The command failed with every part in its message and wrote no manifest."""
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        for part in parts:
            self.assertIn(part, result.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dest, "manifest.json")))


def parse_root(description):
    """(the repository root given by --root, the arguments left for unittest);
    sets ImportCommandCase.root. Exits with argparse's message without --root."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--root", required=True, help="repository root")
    args, rest = parser.parse_known_args()
    ImportCommandCase.root = os.path.abspath(args.root)
    return ImportCommandCase.root, rest


def run_unittest(rest):
    """Runs this program's test cases with unittest; 0 when all pass, else 1."""
    program = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    return 0 if program.result.wasSuccessful() else 1
