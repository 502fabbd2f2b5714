"""Tests of libcutout_files.so (examples/cli/cutout_files.h) through its
ctypes binding (python_wrapper/files_library.py), with the tiny model:
a session writes the command's bytes, names outputs as the command does,
and refuses what it cannot take with the status and message it documents.

Environment (set by CMakeLists.txt):
  CUTOUT_CLI            the cutout program
  CUTOUT_FILES_LIBRARY  libcutout_files.so
  CUTOUT_MODEL_PATH     a directory holding tiny.pt
  CUTOUT_TEST_PHOTOS    a directory of real RGB photos (PNG)
"""

import os
import shutil
import subprocess
import tempfile
import unittest


from python_wrapper import files_library
from python_wrapper.files_library import FilesError

CLI = os.environ.get("CUTOUT_CLI", "")
PHOTOS = os.environ.get("CUTOUT_TEST_PHOTOS", "")


def photo(name):
    return os.path.join(PHOTOS, name)


class TestFilesLibrary(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cutout_files_test_")
        self.out = os.path.join(self.tmp, "out")
        self.lib = files_library.load()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def session(self, *options, overwrite=False):
        return self.lib.open(["--model", "tiny", "-o", self.out, *options], threads=1,
                             overwrite=overwrite)

    def refused(self, status, *options):
        with self.assertRaises(FilesError) as caught:
            self.lib.open(list(options), threads=1, overwrite=False)
        self.assertEqual(caught.exception.status, status, caught.exception.message)
        return caught.exception.message

    def test_outputs_are_the_commands_bytes(self):
        inputs = [photo("product_coffee.png"), photo("animal_fur_chelsea.png")]
        options = ["--mask", "--threshold", "0.5", "--bg-color", "#336699"]
        reference = os.path.join(self.tmp, "reference")
        done = subprocess.run([CLI, "--model", "tiny", "-q", "-o", reference, *options, *inputs],
                              capture_output=True, text=True, timeout=600)
        self.assertEqual(done.returncode, 0, done.stderr)
        with self.session(*options) as s:
            for path in inputs:
                self.assertEqual(s.process(path), (files_library.OK, ""))
        self.assertEqual(sorted(os.listdir(self.out)), sorted(os.listdir(reference)))
        for name in os.listdir(reference):
            with open(os.path.join(self.out, name), "rb") as a, \
                    open(os.path.join(reference, name), "rb") as b:
                self.assertTrue(a.read() == b.read(), name)

    def test_output_names(self):
        with self.session() as s:
            self.assertEqual(s.output_names("a/b.c.jpg"), (f"{self.out}/b.c.png", None))
            self.assertEqual(s.output_names(".hidden"), (f"{self.out}/.hidden.png", None))
        with self.session("--mask") as s:
            self.assertEqual(s.output_names("x.png"),
                             (f"{self.out}/x.png", f"{self.out}/x_mask.png"))
        with self.session("--mask-only") as s:
            self.assertEqual(s.output_names("x.png"), (None, f"{self.out}/x.png"))

    def test_images_that_fail(self):
        folder = os.path.join(self.tmp, "in")
        os.makedirs(folder)
        src = os.path.join(folder, "coffee.png")
        shutil.copyfile(photo("product_coffee.png"), src)
        with self.session() as s:
            self.assertEqual(s.process(folder), (files_library.FAILED,
                                                 "is a directory (expected a PNG or JPEG file)"))
            self.assertEqual(s.process(os.path.join(folder, "none.png")),
                             (files_library.FAILED, "cannot open: No such file or directory"))
            self.assertEqual(s.process(src), (files_library.OK, ""))
            status, message = s.process(src)
            self.assertEqual(status, files_library.FAILED)
            self.assertIn("already exists (use --overwrite to replace it)", message)
        with self.session(overwrite=True) as s:
            self.assertEqual(s.process(src), (files_library.OK, ""))
        with self.lib.open(["--model", "tiny", "-o", folder], 1, True) as s:
            status, message = s.process(src)
            self.assertEqual(status, files_library.FAILED)
            self.assertIn("is the input file", message)
        self.assertEqual(sorted(os.listdir(self.out)), ["coffee.png"])

    def test_options_a_session_refuses(self):
        usage = files_library.USAGE
        self.assertIn("--quiet: a session prints nothing", self.refused(usage, "-q"))
        self.assertIn("--help: not an option", self.refused(usage, "--help"))
        self.assertIn("--shard: a session takes", self.refused(usage, "--shard", "0/2"))
        self.assertIn("--files-from: a session takes", self.refused(usage, "--files-from", "-"))
        self.assertIn("--overwrite: given to the session",
                      self.refused(usage, "--overwrite"))
        self.assertIn("unknown option '--bogus'", self.refused(usage, "--bogus"))
        self.assertIn("no_such_model",
                      self.refused(files_library.MODEL_UNUSABLE, "--model", "no_such_model"))
        blocker = os.path.join(self.tmp, "file")
        open(blocker, "w").close()
        self.assertIn("is not a directory",
                      self.refused(files_library.SETUP, "--model", "tiny", "-o", blocker))
        self.assertIn("--bg-image", self.refused(files_library.SETUP, "--model", "tiny", "-o",
                                                 self.out, "--bg-image", blocker))

    def test_list_entry_is_the_commands_listing(self):
        folder = os.path.join(self.tmp, "mixed")
        os.makedirs(folder)
        for name in ("b.PNG", "a.jpeg", ".hidden.png", "notes.txt", "c.jpg"):
            open(os.path.join(folder, name), "w").close()
        os.makedirs(os.path.join(folder, "sub.png"))
        self.assertEqual(self.lib.list_entry(folder),
                         [os.path.join(folder, n) for n in ("a.jpeg", "b.PNG", "c.jpg")])
        self.assertEqual(self.lib.list_entry(os.path.join(folder, "notes.txt")),
                         [os.path.join(folder, "notes.txt")])
        with self.assertRaises(FilesError) as caught:
            self.lib.list_entry(os.path.join(folder, "none"))
        self.assertEqual(caught.exception.message, "cannot open: No such file or directory")

    def test_a_closed_session_refuses_calls(self):
        s = self.session()
        s.close()
        with self.assertRaises(FilesError):
            s.process(photo("product_coffee.png"))
        with self.assertRaises(FilesError):
            s.output_names("x.png")


if __name__ == "__main__":
    unittest.main()
