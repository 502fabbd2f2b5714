"""The `cutout` command's promises about files, beyond tests/cli/test_cli.py:

- an existing output is replaced only with --overwrite, by renaming a
  complete new file over it (a hard link to the old file keeps the old
  bytes; a symbolic link is replaced, its target is never written);
- an input is never written, not even when another input's output name
  is that input's name, and its bytes and modification time stay the same;
- an image whose model fails (NaN output) or whose model cannot be loaded
  leaves no file behind, and no temporary file either.

Environment (set by CMakeLists.txt):
  CUTOUT_CLI         the cutout program
  CUTOUT_MODEL_PATH  the models of tests/support/make_test_models.py (good.pt, nan_out.pt, ...)
  CUTOUT_TESTDATA    the folder of real photos
"""

import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np
from PIL import Image

CLI = os.environ.get("CUTOUT_CLI", "")
TESTDATA = os.environ.get("CUTOUT_TESTDATA", "")


def run_cli(*args, model="good"):
    return subprocess.run([CLI, "--model", model, "--quiet", *args], capture_output=True,
                          text=True, timeout=600)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("cutout: ")]


class CliFiles(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cutout_reliability_")
        self.out = os.path.join(self.tmp, "out")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def photo(self, name):
        path = os.path.join(TESTDATA, name)
        self.assertTrue(os.path.isfile(path), f"missing test photo {path}")
        return path

    def copy_photo(self, name, folder, new_name=None):
        os.makedirs(folder, exist_ok=True)
        target = os.path.join(folder, new_name or name)
        shutil.copyfile(self.photo(name), target)
        return target

    def assert_complete_cutout(self, path, source):
        with Image.open(path) as out, Image.open(source) as src:
            self.assertEqual(out.mode, "RGBA", path)
            self.assertEqual(out.size, src.size, path)
            rgb = np.array(src.convert("RGB"))
            np.testing.assert_array_equal(np.array(out)[..., :3], rgb, err_msg=path)

    def assert_only(self, folder, names):
        self.assertEqual(sorted(os.listdir(folder)), sorted(names))

    # ---------------------------------------------------------------- outputs

    def test_overwrite_renames_a_new_file_over_the_old_one(self):
        os.makedirs(self.out)
        target = os.path.join(self.out, "animal_fur_chelsea.png")
        with open(target, "wb") as f:
            f.write(b"the old output")
        keeper = os.path.join(self.tmp, "hard_link_to_old")
        os.link(target, keeper)
        old_inode = os.stat(target).st_ino

        result = run_cli("-o", self.out, self.photo("animal_fur_chelsea.png"))
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("already exists", result.stderr)
        with open(target, "rb") as f:
            self.assertEqual(f.read(), b"the old output")

        result = run_cli("-o", self.out, "--overwrite", self.photo("animal_fur_chelsea.png"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertNotEqual(os.stat(target).st_ino, old_inode, "rewritten in place")
        with open(keeper, "rb") as f:
            self.assertEqual(f.read(), b"the old output")
        self.assert_complete_cutout(target, self.photo("animal_fur_chelsea.png"))
        self.assert_only(self.out, ["animal_fur_chelsea.png"])

    def test_overwrite_replaces_a_symbolic_link_not_its_target(self):
        os.makedirs(self.out)
        elsewhere = os.path.join(self.tmp, "precious.txt")
        with open(elsewhere, "w") as f:
            f.write("keep me")
        link = os.path.join(self.out, "product_coffee.png")
        os.symlink(elsewhere, link)
        result = run_cli("-o", self.out, self.photo("product_coffee.png"))
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertTrue(os.path.islink(link))
        result = run_cli("-o", self.out, "--overwrite", self.photo("product_coffee.png"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertFalse(os.path.islink(link))
        with open(elsewhere) as f:
            self.assertEqual(f.read(), "keep me")
        self.assert_complete_cutout(link, self.photo("product_coffee.png"))

    # ----------------------------------------------------------------- inputs

    def test_inputs_keep_their_bytes_and_times(self):
        folder = os.path.join(self.tmp, "photos")
        png = self.copy_photo("animal_fur_chelsea.png", folder)
        Image.open(self.photo("product_coffee.png")).save(os.path.join(folder, "coffee.jpg"))
        jpg = os.path.join(folder, "coffee.jpg")
        before = {}
        for path in (png, jpg):
            with open(path, "rb") as f:
                before[path] = (f.read(), os.stat(path).st_mtime_ns)
        # Outputs go into the inputs' own folder: coffee.jpg -> coffee.png
        # is new; animal_fur_chelsea.png -> itself is refused.
        result = run_cli("-o", folder, "--overwrite", "--mask", png, jpg)
        self.assertEqual(result.returncode, 1, result.stderr)
        lines = error_lines(result.stderr)
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn("is the input file", lines[0])
        for path, (data, mtime) in before.items():
            with open(path, "rb") as f:
                self.assertEqual(f.read(), data, path)
            self.assertEqual(os.stat(path).st_mtime_ns, mtime, path)
        self.assert_complete_cutout(os.path.join(folder, "coffee.png"), jpg)
        self.assert_only(folder, ["animal_fur_chelsea.png", "coffee.jpg", "coffee.png",
                                  "coffee_mask.png"])

    def test_an_output_named_like_another_input_is_refused(self):
        # x.jpg's output would be x.png, which is another input.
        folder = os.path.join(self.tmp, "photos")
        x_png = self.copy_photo("animal_fur_chelsea.png", folder, "x.png")
        Image.open(self.photo("product_coffee.png")).save(os.path.join(folder, "x.jpg"))
        with open(x_png, "rb") as f:
            before = f.read()
        result = run_cli("-o", folder, "--overwrite", os.path.join(folder, "x.jpg"), x_png)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("is the input file", result.stderr)
        with open(x_png, "rb") as f:
            self.assertEqual(f.read(), before)

    # --------------------------------------------------------------- failures

    def test_a_model_that_returns_nan_leaves_no_file(self):
        photos = [self.photo("animal_fur_chelsea.png"), self.photo("product_coffee.png"),
                  self.photo("portrait_astronaut.png")]
        for batch_size in ("1", "2"):
            result = run_cli("-o", self.out, "--mask", "--batch-size", batch_size, *photos,
                             model="nan_out")
            self.assertEqual(result.returncode, 1, result.stderr)
            lines = error_lines(result.stderr)
            self.assertEqual(len(lines), len(photos), result.stderr)
            for line in lines:
                self.assertIn("model output: not finite", line)
            self.assert_only(self.out, [])

    def test_a_model_that_cannot_load_leaves_no_file(self):
        for model in ("corrupt", "truncated", "empty", "no_meta"):
            result = run_cli("-o", self.out, self.photo("animal_fur_chelsea.png"),
                             self.photo("product_coffee.png"), model=model)
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertIn(f'"{model}"', result.stderr)
            self.assertTrue(not os.path.exists(self.out) or os.listdir(self.out) == [],
                            f"{model}: {os.listdir(self.out)}")


if __name__ == "__main__":
    unittest.main()
