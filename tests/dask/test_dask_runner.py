"""Tests of tools/cutout-dask on a local Dask cluster of two worker
processes, with the tiny model (tests/support/make_test_models.py cli) and 40 small
images cut from the repository's photos.

- Every output file is byte for byte the `cutout` command's with the same
  options, and the manifest has exactly one line per input.
- A worker process killed in the middle of a chunk: Dask runs the chunk
  again elsewhere, and still every input is done, and recorded, once.
- A rerun skips what the manifest records as done, also after Ctrl-C;
  failures are recorded with their reason; a first run does not replace
  existing files; a model that cannot load stops the run.
- TLS: the runner reaches a scheduler that takes only TLS, with the
  certificate files as options or through a Dask configuration file.

Environment (set by CMakeLists.txt):
  CUTOUT_CLI            the cutout program
  CUTOUT_DASK           tools/cutout-dask
  CUTOUT_FILES_LIBRARY  libcutout_files.so
  CUTOUT_MODEL_PATH     a directory holding tiny.pt
  CUTOUT_TEST_PHOTOS    the repository's photos (tests/data/photos)

Run one group: python3 test_dask_runner.py TestRunner
"""

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from PIL import Image

CLI = os.environ.get("CUTOUT_CLI", "")
RUNNER = os.environ.get("CUTOUT_DASK", "")
PHOTOS = os.environ.get("CUTOUT_TEST_PHOTOS", "")
PYTHON = sys.executable

# The workers unpickle cutout_dask.worker.process_chunk: they import it
# through the PYTHONPATH (examples/dask) they inherit from this process.
from distributed import LocalCluster, Security
from distributed.diagnostics.plugin import WorkerPlugin

IMAGE_COUNT = 40
CUTOUT_OPTIONS = ["--model", "tiny", "--mask"]


def make_images(folder):
    """IMAGE_COUNT crops of the repository's RGB photos, 48 to 87 px a side,
    as PNG and JPEG; returns their paths, sorted."""
    os.makedirs(folder)
    photos = sorted(n for n in os.listdir(PHOTOS) if n.endswith(".png") and
                    not n.startswith("rgba_"))
    paths = []
    for k in range(IMAGE_COUNT):
        with Image.open(os.path.join(PHOTOS, photos[k % len(photos)])) as im:
            rgb = im.convert("RGB")
            w, h = 48 + (k * 7) % 40, 48 + (k * 11) % 40
            x, y = (k * 37) % (rgb.width - w), (k * 53) % (rgb.height - h)
            crop = rgb.crop((x, y, x + w, y + h))
        path = os.path.join(folder, f"img{k:02d}" + (".jpg" if k % 4 == 3 else ".png"))
        crop.save(path, quality=90) if path.endswith(".jpg") else crop.save(path)
        paths.append(path)
    return sorted(paths)


def run_runner(*args, env=None, timeout=300):
    env = dict(os.environ if env is None else env, CUTOUT_PYTHON=PYTHON)
    return subprocess.run([RUNNER, *args], capture_output=True, text=True, timeout=timeout, env=env)


def read_manifest(path):
    with open(path, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    return lines[0], lines[1:]


def start_cluster(**kwargs):
    return LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                        silence_logs=logging.CRITICAL,
                        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                        **kwargs)


class RunnerTestCase(unittest.TestCase):
    """A folder of images and the command's own outputs for them."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cutout_dask_test_")
        cls.images = make_images(os.path.join(cls.tmp, "images"))
        cls.reference = os.path.join(cls.tmp, "reference")
        done = subprocess.run([CLI, *CUTOUT_OPTIONS, "--quiet", "-o", cls.reference,
                               os.path.join(cls.tmp, "images")], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        cls.cluster = None

    @classmethod
    def tearDownClass(cls):
        if cls.cluster is not None:
            cls.cluster.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.work = tempfile.mkdtemp(dir=self.tmp)
        self.out = os.path.join(self.work, "out")
        self.manifest = os.path.join(self.work, "manifest.jsonl")

    def run_on_cluster(self, *inputs, extra=(), options=None, chunk_size=4):
        return run_runner("--scheduler", self.cluster.scheduler_address, "--insecure", "--manifest",
                          self.manifest, "--chunk-size", str(chunk_size), "--quiet", *extra,
                          *inputs, "--", *(options or CUTOUT_OPTIONS), "-o", self.out)

    def assert_same_as_command(self, names=None):
        """Every output (or those of `names`) equals the command's bytes,
        and no temporary file is left."""
        expected = sorted(os.listdir(self.reference)) if names is None else sorted(names)
        self.assertEqual(sorted(os.listdir(self.out)), expected)
        for name in expected:
            with open(os.path.join(self.out, name), "rb") as a, \
                    open(os.path.join(self.reference, name), "rb") as b:
                self.assertTrue(a.read() == b.read(), f"{name} differs from the command's")

    def assert_each_once(self, items, inputs):
        self.assertEqual(sorted(r["input"] for r in items), sorted(inputs))


class TestRunner(RunnerTestCase):
    """The runner on a shared two-worker cluster."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A model file that exists but cannot be loaded, on the model path of
        # the client and of the workers (they inherit this environment).
        broken = os.path.join(cls.tmp, "broken_models")
        os.makedirs(broken)
        with open(os.path.join(broken, "corrupt.pt"), "wb") as f:
            f.write(b"PK\x03\x04 not a TorchScript archive")
        os.environ["CUTOUT_MODEL_PATH"] += os.pathsep + broken
        cls.cluster = start_cluster()

    def test_outputs_are_the_commands_bytes(self):
        done = self.run_on_cluster(os.path.join(self.tmp, "images"))
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assert_same_as_command()
        header, items = read_manifest(self.manifest)
        self.assertEqual(header, {"cutout_dask_manifest": 1,
                                  "options": CUTOUT_OPTIONS + ["-o", self.out]})
        self.assert_each_once(items, self.images)
        for r in items:
            stem = os.path.splitext(os.path.basename(r["input"]))[0]
            self.assertEqual(r["status"], "ok", r)
            self.assertEqual(r["output"], os.path.join(self.out, stem + ".png"))
            self.assertEqual(r["mask"], os.path.join(self.out, stem + "_mask.png"))
            self.assertGreater(r["seconds"], 0.0)
            self.assertEqual(r["message"], "")

    def test_rerun_does_only_what_is_not_done(self):
        listing = os.path.join(self.work, "list.txt")
        with open(listing, "w") as f:
            f.write("\n".join(self.images) + "\n")
        first = self.run_on_cluster(extra=("--files-from", listing))
        self.assertEqual(first.returncode, 0, first.stderr)
        # Three inputs lose their line and one is cut short, as by a client
        # killed while writing: exactly those four are done again.
        header, items = read_manifest(self.manifest)
        redo = {items[5]["input"], items[17]["input"], items[30]["input"], items[-1]["input"]}
        kept = [r for r in items if r["input"] not in redo]
        with open(self.manifest, "w") as f:
            f.write(json.dumps(header) + "\n")
            f.writelines(json.dumps(r) + "\n" for r in kept)
            f.write(json.dumps(items[-1])[:25])
        stamps = {n: os.stat(os.path.join(self.out, n)).st_mtime_ns
                  for n in os.listdir(self.out)}
        time.sleep(0.01)
        again = self.run_on_cluster(extra=("--files-from", listing))
        self.assertEqual(again.returncode, 0, again.stderr)
        # The line cut short is gone: every line is whole again.
        _, now = read_manifest(self.manifest)
        self.assertEqual(now[:len(kept)], kept)
        new = now[len(kept):]
        self.assertEqual(sorted(r["input"] for r in new), sorted(redo))
        self.assertTrue(all(r["status"] == "ok" for r in new), new)
        redone_stems = {os.path.splitext(os.path.basename(p))[0] for p in redo}
        for name, stamp in stamps.items():
            changed = os.stat(os.path.join(self.out, name)).st_mtime_ns != stamp
            self.assertEqual(changed, name.replace("_mask", "")[:-4] in redone_stems, name)
        self.assert_same_as_command()
        # Everything is done now: a third run sends nothing.
        third = run_runner("--local-workers", "1", "--manifest", self.manifest, "--files-from",
                           listing, "--", *CUTOUT_OPTIONS, "-o", self.out)
        self.assertEqual(third.returncode, 0, third.stderr)
        self.assertIn("0 image(s): 0 done, 0 failed (40 done before)", third.stderr)

    def test_local_workers_use_tls_and_a_default_manifest_in_the_output_folder(self):
        done = run_runner("--local-workers", "1", *self.images[:2], "--", *CUTOUT_OPTIONS, "-o", self.out)
        self.assertEqual(done.returncode, 0, done.stderr)
        manifest = os.path.join(self.out, ".cutout-dask-manifest.jsonl")
        self.assertIn(f"cutout-dask: manifest: {manifest}", done.stderr)
        _, items = read_manifest(manifest)
        self.assertEqual(len(items), 2)
        self.assertNotIn("has no TLS", done.stderr)
        os.remove(manifest)
        self.assert_same_as_command([n for n in os.listdir(self.reference)
                                     if any(n.startswith(os.path.basename(i)[:-4]) for i in self.images[:2])])

    def test_failures_are_recorded_once_with_their_reason(self):
        bad = os.path.join(self.work, "bad")
        os.makedirs(bad)
        corrupt = os.path.join(bad, "corrupt.png")
        with open(corrupt, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
        twin = os.path.join(bad, "img00.jpg")  # its outputs are img00.png's
        shutil.copyfile(self.images[0], twin)
        missing = os.path.join(bad, "missing.png")
        good = self.images[:6]
        done = self.run_on_cluster(*good, corrupt, twin, missing, good[2])
        self.assertEqual(done.returncode, 1, done.stderr)
        _, items = read_manifest(self.manifest)
        self.assert_each_once(items, good + [corrupt, twin, missing])
        status = {r["input"]: r for r in items}
        self.assertTrue(all(status[p]["status"] == "ok" for p in good))
        self.assertEqual(status[corrupt]["status"], "failed")
        self.assertIn("PNG", status[corrupt]["message"])
        self.assertEqual(status[twin]["message"],
                         f"output {self.out}/img00.png is also the output of {good[0]}")
        self.assertEqual(status[missing]["message"], "cannot open: No such file or directory")
        self.assertIn(f"{corrupt}: ", done.stderr)
        names = [os.path.basename(p)[:-4] + s for p in good for s in (".png", "_mask.png")]
        self.assert_same_as_command(names)

    def test_a_first_run_replaces_no_existing_file(self):
        os.makedirs(self.out)
        existing = os.path.join(self.out, "img01.png")
        with open(existing, "wb") as f:
            f.write(b"keep me")
        refused = self.run_on_cluster(*self.images[:3])
        self.assertEqual(refused.returncode, 1)
        self.assertIn(f"1 output file(s) exist already, e.g. {existing}", refused.stderr)
        self.assertFalse(os.path.exists(self.manifest), "a refused run left a manifest")
        with open(existing, "rb") as f:
            self.assertEqual(f.read(), b"keep me")
        replaced = self.run_on_cluster(*self.images[:3], extra=("--overwrite",))
        self.assertEqual(replaced.returncode, 0, replaced.stderr)
        names = [os.path.basename(p)[:-4] + s for p in self.images[:3]
                 for s in (".png", "_mask.png")]
        self.assert_same_as_command(names)

    def test_temporary_files_of_killed_workers_are_removed(self):
        os.makedirs(self.out)
        stale = os.path.join(self.out, ".img02_mask.png.cutout-Ab3xY9")  # as output_files.c names them
        other = os.path.join(self.out, ".notes.txt.cutout-Ab3xY9")  # not an output of this run
        backup = os.path.join(self.out, ".img02_mask.png.backup")  # a user's file, not ours
        for path in (stale, other, backup):
            with open(path, "wb") as f:
                f.write(b"\x89PNG")
        done = self.run_on_cluster(*self.images[:4])
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertFalse(os.path.exists(stale))
        self.assertTrue(os.path.exists(other))
        self.assertTrue(os.path.exists(backup))

    def test_a_model_that_cannot_load_stops_the_run(self):
        images = self.images[:20]
        done = self.run_on_cluster(*images, options=["--model", "corrupt"])
        self.assertEqual(done.returncode, 1, done.stderr)
        _, items = read_manifest(self.manifest)
        self.assertTrue(items, "no image was tried")
        self.assertTrue(all(r["status"] == "failed" for r in items), items)
        self.assertEqual(len({r["input"] for r in items}), len(items))
        skipped = 20 - len(items)
        self.assertIn(f"stopped, since every image would fail: ", done.stderr)
        self.assertIn(f"; {skipped} image(s) skipped", done.stderr)
        self.assertFalse(os.path.exists(self.out) and os.listdir(self.out))

    def test_a_manifest_belongs_to_its_options(self):
        first = self.run_on_cluster(*self.images[:2])
        self.assertEqual(first.returncode, 0, first.stderr)
        other = self.run_on_cluster(*self.images[:2], options=["--model", "tiny"])
        self.assertEqual(other.returncode, 2)
        self.assertIn("written for the options", other.stderr)


class KillMidChunkOnce(WorkerPlugin):
    """Makes the first worker process that finishes its `after`-th image
    exit at once (os._exit) before it returns the chunk: the images before
    it have their files written but no result. A marker file, holding the
    last image written, makes it happen once in the whole cluster."""

    def __init__(self, marker, after):
        self.marker = marker
        self.after = after

    def setup(self, worker):
        from python_wrapper import files_library

        original = files_library.Session.process
        marker, after, count = self.marker, self.after, [0]

        def process(session, path):
            result = original(session, path)
            count[0] += 1
            if count[0] == after:
                try:
                    fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    return result
                os.write(fd, path.encode())
                os.close(fd)
                os._exit(1)
            return result

        files_library.Session.process = process


class TestWorkerDeath(RunnerTestCase):
    def test_every_image_once_after_a_worker_dies_mid_chunk(self):
        marker = os.path.join(self.tmp, "killed")
        type(self).cluster = start_cluster()
        with self.cluster.get_client() as client:
            client.register_worker_plugin(KillMidChunkOnce(marker, after=3))
        done = self.run_on_cluster(os.path.join(self.tmp, "images"), chunk_size=10)
        self.assertEqual(done.returncode, 0, done.stderr)
        with open(marker) as f:
            last_written = f.read()
        self.assertIn(last_written, self.images, "no worker was killed")
        _, items = read_manifest(self.manifest)
        self.assert_each_once(items, self.images)
        self.assertTrue(all(r["status"] == "ok" for r in items), items)
        self.assert_same_as_command()


class SlowImages(WorkerPlugin):
    """Makes every image take `seconds` longer on the worker, so that a run
    is still going when the test interrupts it."""

    def __init__(self, seconds):
        self.seconds = seconds

    def setup(self, worker):
        from python_wrapper import files_library

        original = files_library.Session.process
        seconds = self.seconds

        def process(session, path):
            time.sleep(seconds)
            return original(session, path)

        files_library.Session.process = process


class TestInterrupt(RunnerTestCase):
    def test_ctrl_c_stops_and_a_rerun_resumes(self):
        type(self).cluster = start_cluster()
        with self.cluster.get_client() as client:
            client.register_worker_plugin(SlowImages(0.05))
        args = ["--scheduler", self.cluster.scheduler_address, "--insecure", "--manifest", self.manifest,
                "--chunk-size", "2", os.path.join(self.tmp, "images"), "--",
                *CUTOUT_OPTIONS, "-o", self.out]
        runner = subprocess.Popen([RUNNER, *args], stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, CUTOUT_PYTHON=PYTHON))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if os.path.exists(self.manifest):
                with open(self.manifest) as f:
                    if len(f.readlines()) >= 5:
                        break
            time.sleep(0.01)
        runner.send_signal(signal.SIGINT)
        _, stderr = runner.communicate(timeout=120)
        self.assertEqual(runner.returncode, 130, stderr)
        self.assertRegex(stderr, r"interrupted: \d+ of 40 images done")
        self.assertNotIn("Traceback", stderr)
        _, first = read_manifest(self.manifest)
        self.assertLess(len(first), IMAGE_COUNT, "the run ended before the interrupt")
        self.assertEqual(len({r["input"] for r in first}), len(first))

        again = run_runner(*args)
        self.assertEqual(again.returncode, 0, again.stderr)
        _, items = read_manifest(self.manifest)
        self.assertEqual(items[:len(first)], first)
        self.assert_each_once(items, self.images)
        self.assertTrue(all(r["status"] == "ok" for r in items), items)
        self.assert_same_as_command()


class TestSecurity(RunnerTestCase):
    """A scheduler and workers that speak only TLS, with one throwaway
    certificate authority."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        security = Security.temporary()
        cls.pem = {}
        for name, text in (("ca", security.tls_ca_file), ("cert", security.tls_client_cert),
                           ("key", security.tls_client_key)):
            cls.pem[name] = os.path.join(cls.tmp, name + ".pem")
            with open(cls.pem[name], "w") as f:
                f.write(text)
        cls.cluster = start_cluster(security=security, protocol="tls://")

    def test_tls_options(self):
        self.assertTrue(self.cluster.scheduler_address.startswith("tls://"))
        done = self.run_on_cluster(*self.images[:4], extra=(
            "--tls-ca-file", self.pem["ca"], "--tls-cert", self.pem["cert"],
            "--tls-key", self.pem["key"]))
        self.assertEqual(done.returncode, 0, done.stderr)
        names = [os.path.basename(p)[:-4] + s for p in self.images[:4]
                 for s in (".png", "_mask.png")]
        self.assert_same_as_command(names)

    def test_dask_configuration_file(self):
        config = os.path.join(self.work, "config")
        os.makedirs(config)
        with open(os.path.join(config, "tls.yaml"), "w") as f:
            f.write("distributed:\n  comm:\n    require-encryption: true\n    tls:\n"
                    f"      ca-file: {self.pem['ca']}\n"
                    f"      client:\n        cert: {self.pem['cert']}\n"
                    f"        key: {self.pem['key']}\n")
        env = dict(os.environ, DASK_CONFIG=config)
        done = run_runner("--scheduler", self.cluster.scheduler_address, "--manifest",
                          self.manifest, "--quiet", *self.images[:2], "--", *CUTOUT_OPTIONS,
                          "-o", self.out, env=env)
        self.assertEqual(done.returncode, 0, done.stderr)
        _, items = read_manifest(self.manifest)
        self.assert_each_once(items, self.images[:2])


class TestUsage(unittest.TestCase):
    """Bad usage: exit status 2, one line saying what was wrong, then the
    hint; nothing is written."""

    def usage_error(self, *args):
        with tempfile.TemporaryDirectory() as tmp:
            manifest = os.path.join(tmp, "m.jsonl")
            done = run_runner(*[a.replace("MANIFEST", manifest) for a in args])
            self.assertEqual(done.returncode, 2, done.stderr)
            lines = done.stderr.splitlines()
            self.assertEqual(len(lines), 2, done.stderr)
            self.assertTrue(lines[0].startswith("cutout-dask: "), lines[0])
            self.assertEqual(lines[1], "Try 'cutout-dask --help'.")
            self.assertFalse(os.path.exists(manifest))
            return lines[0]

    def test_usage_errors(self):
        photo = os.path.join(PHOTOS, "product_coffee.png")
        local = ["--local-workers", "1", "--manifest", "MANIFEST"]
        self.assertIn("--scheduler: expected tls://HOST:PORT, got 'tcp://127.0.0.1:1' (a scheduler without "
                      "TLS runs whatever anyone who reaches it sends; --insecure to use it anyway)",
                      self.usage_error("--scheduler", "tcp://127.0.0.1:1", "--manifest", "MANIFEST", photo))
        self.assertIn("--insecure: only for --scheduler or --scheduler-file",
                      self.usage_error(*local, "--insecure", photo))
        self.assertIn("one of the arguments --scheduler --scheduler-file --local-workers",
                      self.usage_error("--manifest", "MANIFEST", photo))
        self.assertIn("no input given", self.usage_error(*local))
        self.assertIn("--chunk-size: expected an integer from 1 to 100000, got '0'",
                      self.usage_error(*local, "--chunk-size", "0", photo))
        self.assertIn("--tls-ca-file, --tls-cert, --tls-key: expected all three",
                      self.usage_error("--scheduler", "tls://127.0.0.1:1", "--manifest",
                                       "MANIFEST", "--tls-ca-file", photo, photo))
        self.assertIn("expected --scheduler tls://HOST:PORT, got 'tcp://127.0.0.1:1'",
                      self.usage_error("--scheduler", "tcp://127.0.0.1:1", "--manifest",
                                       "MANIFEST", "--tls-ca-file", photo, "--tls-cert", photo,
                                       "--tls-key", photo, photo))
        self.assertEqual(
            self.usage_error(*local, photo, "--", "--model", "tiny", "--threads", "2"),
            "cutout-dask: cutout options: --threads: given to the session by its caller, not "
            "as an option (cutout-dask gives each worker's session the worker's threads)")
        self.assertIn("cutout options: --batch-size: a session runs one image per pass, "
                      "expected 1, got 4",
                      self.usage_error(*local, photo, "--", "--model", "tiny", "-b", "4"))
        self.assertIn("cutout options: --fit: expected auto, balanced, letterbox or stretch",
                      self.usage_error(*local, photo, "--", "--fit", "square"))
        self.assertIn("INPUT 'x.png': a session takes its images one at a time",
                      self.usage_error(*local, photo, "--", "--model", "tiny", "x.png"))
        self.assertIn("-o: workers that may run elsewhere write it, so expected an absolute "
                      "folder, got 'out'",
                      self.usage_error("--scheduler", "tcp://127.0.0.1:1", "--insecure", "--manifest",
                                       "MANIFEST", photo, "--", "--model", "tiny", "-o", "out"))


if __name__ == "__main__":
    unittest.main()
