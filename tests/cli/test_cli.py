"""Tests of the `cutout` command and of the example host `cutout_host`.

They run the built programs with the real library and a tiny TorchScript
model (tests/support/make_test_models.py cli: light pixels are foreground), on the repository's
example photos and on images generated here in every PNG/JPEG flavour.

Environment (set by CMakeLists.txt):
  CUTOUT_CLI          the cutout program
  CUTOUT_HOST         the cutout_host program
  CUTOUT_LIBRARY      libcutout.so
  CUTOUT_MODEL_PATH   a directory holding tiny.pt
  CUTOUT_TEST_PHOTOS  a directory of real RGB photos (PNG)

Run one group: python3 test_cli.py TestOutputs
"""

import json
import os
import pty
import re
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

import numpy as np
from PIL import Image

CLI = os.environ.get("CUTOUT_CLI", "")
HOST = os.environ.get("CUTOUT_HOST", "")
LIBRARY = os.environ.get("CUTOUT_LIBRARY", "")
PHOTOS = os.environ.get("CUTOUT_TEST_PHOTOS", "")
MODEL = "tiny"
LIMIT = 4194304


def run_cli(*args, cwd=None):
    """Runs cutout with the tiny model; returns the CompletedProcess."""
    return subprocess.run([CLI, "--model", MODEL, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("cutout: ")]


def photo(name):
    return os.path.join(PHOTOS, name)


def load(path):
    with Image.open(path) as im:
        return im.mode, np.array(im)


def write_png_rgb16(path, rgb16):
    """A 16-bit RGB PNG (PIL cannot write one), filter type 0 on every row."""
    height, width, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[y].astype(">u2").tobytes() for y in range(height))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw)))
        f.write(chunk(b"IEND", b""))


def luma(rgb):
    return rgb[..., :3].astype(np.float64).mean(axis=2)


class CliTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cutout_cli_test_")
        self.out = os.path.join(self.tmp, "out")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def assert_no_temp_files(self, directory):
        hidden = [n for n in os.listdir(directory) if n.startswith(".")]
        self.assertEqual(hidden, [], "temporary files left behind")

    def assert_cutout_of(self, out_path, expected_rgb, input_alpha=None):
        """out_path is an 8-bit RGBA PNG whose RGB is expected_rgb exactly
        and whose alpha is the tiny model's matte: light means opaque."""
        mode, rgba = load(out_path)
        self.assertEqual(mode, "RGBA", out_path)
        self.assertEqual(rgba.shape[:2], expected_rgb.shape[:2], out_path)
        np.testing.assert_array_equal(rgba[..., :3], expected_rgb, err_msg=out_path)
        alpha = rgba[..., 3].astype(np.float64)
        if input_alpha is None:
            self.assertGreater(alpha.std(), 1.0, f"{out_path}: constant alpha")
            if expected_rgb.std() > 1.0:
                corr = np.corrcoef(luma(expected_rgb).ravel(), alpha.ravel())[0, 1]
                self.assertGreater(corr, 0.5, f"{out_path}: alpha does not follow brightness")
        else:  # the input alpha multiplies the matte
            self.assertTrue((rgba[..., 3] <= input_alpha).all(), out_path)
            self.assertTrue((rgba[..., 3][input_alpha == 0] == 0).all(), out_path)
            self.assertGreater(alpha[input_alpha == 255].mean(), 0.0, out_path)
        return rgba


class TestOutputs(CliTestCase):
    """Every PNG/JPEG flavour in, 8-bit RGBA (and gray masks) out."""

    def make_inputs(self):
        """Writes one input per flavour; returns {stem: (path, rgb, alpha)}."""
        src = np.array(Image.open(photo("portrait_astronaut.png")).convert("RGB"))
        small = src[::2, ::2].copy()  # 256 x 256
        gray = np.array(Image.fromarray(small).convert("L"))
        d = self.path("in")
        os.makedirs(d)
        cases = {}

        def add(stem, image, rgb, alpha=None, ext=".png", **save_args):
            p = os.path.join(d, stem + ext)
            image.save(p, **save_args)
            cases[stem] = (p, rgb, alpha)

        add("rgb8", Image.fromarray(small), small)
        add("gray8", Image.fromarray(gray), np.stack([gray] * 3, axis=2))
        bw = gray > 128
        add("gray1", Image.fromarray(bw), np.stack([bw.astype(np.uint8) * 255] * 3, axis=2))
        alpha = np.tile(np.linspace(0, 255, 256).astype(np.uint8), (256, 1))
        alpha[:, :32] = 0
        alpha[:, -32:] = 255
        add("gray_alpha", Image.fromarray(np.stack([gray, alpha], axis=2), "LA"),
            np.stack([gray] * 3, axis=2), alpha)
        add("rgba8", Image.fromarray(np.dstack([small, alpha]), "RGBA"), small, alpha)
        pal = Image.fromarray(small).quantize(colors=64)
        pal_rgb = np.array(pal.convert("RGB"))
        add("palette", pal, pal_rgb)
        pal_t = pal.copy()
        index = int(np.array(pal)[0, 0])  # that colour becomes transparent
        pal_t.info["transparency"] = index
        tr_alpha = np.where(np.array(pal) == index, 0, 255).astype(np.uint8)
        add("palette_trns", pal_t, pal_rgb, tr_alpha, transparency=index)
        # 16 bits: gray via PIL, RGB by hand; 8-bit output rounds v / 257.
        g16 = (gray.astype(np.uint32) * 257 + np.arange(256)[None, :] % 200).astype(np.uint16)
        add("gray16", Image.fromarray(g16),  # uint16 is mode I;16 (Pillow 13 takes no mode here)
            np.stack([np.floor(g16 / 257.0 + 0.5).astype(np.uint8)] * 3, axis=2))
        rgb16 = (small.astype(np.uint32) * 257 + 100).clip(0, 65535).astype(np.uint16)
        write_png_rgb16(os.path.join(d, "rgb16.png"), rgb16)
        cases["rgb16"] = (os.path.join(d, "rgb16.png"),
                          np.floor(rgb16 / 257.0 + 0.5).astype(np.uint8), None)
        # JPEG: compare with the decoded JPEG (same libjpeg, same pixels).
        for stem, image in (("jpeg_rgb", Image.fromarray(small)),
                            ("jpeg_gray", Image.fromarray(gray))):
            p = os.path.join(d, stem + ".jpg")
            image.save(p, quality=90)
            cases[stem] = (p, np.array(Image.open(p).convert("RGB")), None)
        return cases

    def test_every_flavour_gives_rgba_with_the_input_rgb(self):
        cases = self.make_inputs()
        result = run_cli("-o", self.out, "--mask", *[c[0] for c in cases.values()])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(error_lines(result.stderr), [])
        self.assertIn(f"{len(cases)} images: {len(cases)} done, 0 failed", result.stderr)
        expected_files = sorted([f"{s}.png" for s in cases] + [f"{s}_mask.png" for s in cases])
        self.assertEqual(sorted(os.listdir(self.out)), expected_files)
        for stem, (_, rgb, alpha) in cases.items():
            with self.subTest(stem):
                rgba = self.assert_cutout_of(os.path.join(self.out, stem + ".png"), rgb, alpha)
                mode, mask = load(os.path.join(self.out, stem + "_mask.png"))
                self.assertEqual(mode, "L")
                np.testing.assert_array_equal(mask, rgba[..., 3])

    def test_real_photos_and_mask_only(self):
        names = ["portrait_astronaut.png", "product_coffee.png", "animal_fur_chelsea.png"]
        full = run_cli("-o", self.out, *[photo(n) for n in names])
        self.assertEqual(full.returncode, 0, full.stderr)
        masks = os.path.join(self.tmp, "masks")
        only = run_cli("-o", masks, "--mask-only", *[photo(n) for n in names])
        self.assertEqual(only.returncode, 0, only.stderr)
        self.assertEqual(sorted(os.listdir(masks)), sorted(names))  # <stem>.png, no _mask
        for n in names:
            rgb = np.array(Image.open(photo(n)).convert("RGB"))
            rgba = self.assert_cutout_of(os.path.join(self.out, n), rgb)
            mode, mask = load(os.path.join(masks, n))
            self.assertEqual(mode, "L")
            np.testing.assert_array_equal(mask, rgba[..., 3])

    def test_directory_input_is_sorted_flat_and_images_only(self):
        d = self.path("photos")
        os.makedirs(os.path.join(d, "sub"))
        shutil.copy(photo("product_coffee.png"), os.path.join(d, "b_coffee.PNG"))
        Image.open(photo("animal_fur_chelsea.png")).save(os.path.join(d, "a_cat.jpeg"))
        shutil.copy(photo("portrait_astronaut.png"), os.path.join(d, ".hidden.png"))
        shutil.copy(photo("portrait_astronaut.png"), os.path.join(d, "sub", "deep.png"))
        with open(os.path.join(d, "notes.txt"), "w") as f:
            f.write("not an image\n")
        result = run_cli("-o", self.out, d)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(os.listdir(self.out)), ["a_cat.png", "b_coffee.png"])
        self.assertIn("2 images: 2 done", result.stderr)
        rgb = np.array(Image.open(os.path.join(d, "a_cat.jpeg")).convert("RGB"))
        self.assert_cutout_of(os.path.join(self.out, "a_cat.png"), rgb)

    def test_batches_give_the_same_pixels_as_single_images(self):
        d = self.path("in")
        os.makedirs(d)
        src = np.array(Image.open(photo("portrait_astronaut.png")).convert("RGB"))
        # three of one size, one of another, one more of the first size
        crops = [src[:200, :300], src[100:300, 50:350], src[300:500, 200:500], src[:100, :100],
                 src[250:450, 150:450]]
        for i, c in enumerate(crops):
            Image.fromarray(c.copy()).save(os.path.join(d, f"c{i}.png"))
        single = run_cli("-o", self.path("one"), d)
        batched = run_cli("-o", self.path("four"), "--batch-size", "4", d)
        self.assertEqual(single.returncode, 0, single.stderr)
        self.assertEqual(batched.returncode, 0, batched.stderr)
        for i in range(len(crops)):
            a = load(self.path("one", f"c{i}.png"))[1]
            b = load(self.path("four", f"c{i}.png"))[1]
            np.testing.assert_array_equal(a, b, err_msg=f"c{i}")

    def test_output_dir_is_created_and_defaults_to_cwd(self):
        nested = self.path("a", "b", "c")
        result = run_cli("-o", nested, photo("product_coffee.png"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(os.listdir(nested), ["product_coffee.png"])
        cwd = self.path("cwd")
        os.makedirs(cwd)
        result = run_cli(photo("product_coffee.png"), cwd=cwd)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(os.listdir(cwd), ["product_coffee.png"])


class TestFailures(CliTestCase):
    """Bad images fail one by one, with one line each; the rest go on."""

    def test_bad_images_fail_alone(self):
        d = self.path("in")
        os.makedirs(d)
        good = [photo("product_coffee.png"), photo("animal_fur_chelsea.png")]
        big = os.path.join(d, "big.png")
        Image.new("RGB", (2049, 2048), (200, 120, 40)).save(big)
        at_limit = os.path.join(d, "at_limit.png")  # 2048 x 2048 is allowed
        Image.new("RGB", (2048, 2048), (250, 250, 250)).save(at_limit)
        with open(photo("portrait_astronaut.png"), "rb") as f:
            data = f.read()
        truncated = os.path.join(d, "truncated.png")
        with open(truncated, "wb") as f:
            f.write(data[: len(data) // 3])
        crc = bytearray(data)
        crc[20] ^= 0x01  # the height in IHDR: its CRC no longer matches
        bad_crc = os.path.join(d, "bad_crc.png")
        with open(bad_crc, "wb") as f:
            f.write(bytes(crc))
        text = os.path.join(d, "text.jpg")
        with open(text, "w") as f:
            f.write("this is not a JPEG\n")
        cmyk = os.path.join(d, "cmyk.jpg")
        Image.new("CMYK", (40, 30), (10, 20, 30, 40)).save(cmyk)
        empty = os.path.join(d, "empty.png")
        open(empty, "wb").close()
        missing = os.path.join(d, "missing.png")

        bad = [big, truncated, bad_crc, text, cmyk, empty, missing]
        args = [good[0], *bad[:4], at_limit, *bad[4:], good[1]]
        result = run_cli("-o", self.out, *args)
        self.assertEqual(result.returncode, 1, result.stderr)
        lines = error_lines(result.stderr)
        self.assertEqual(len(lines), len(bad), result.stderr)
        # One line per bad image, "cutout: <path>: <why>" (a missing file is
        # reported first, when the arguments are read).
        by_path = {}
        for line in lines:
            for path in bad:
                if line.startswith(f"cutout: {path}: "):
                    by_path[path] = line
        self.assertEqual(sorted(by_path), sorted(bad), result.stderr)
        self.assertIn("2048 x 2049", by_path[big])
        self.assertIn(str(LIMIT), by_path[big])
        self.assertIn("truncated", by_path[truncated])
        self.assertIn("CRC", by_path[bad_crc])
        self.assertIn("not a PNG or JPEG", by_path[text])
        self.assertIn("CMYK", by_path[cmyk])
        self.assertIn("empty", by_path[empty])
        self.assertIn("No such file", by_path[missing])
        self.assertIn(f"{len(args)} images: 3 done, {len(bad)} failed", result.stderr)
        # Outputs only for the good ones, and no leftovers.
        self.assertEqual(sorted(os.listdir(self.out)),
                         ["animal_fur_chelsea.png", "at_limit.png", "product_coffee.png"])
        self.assert_no_temp_files(self.out)

    def test_unknown_model_stops_before_any_work(self):
        result = subprocess.run([CLI, "--model", "no_such_model", "-o", self.out,
                                 photo("product_coffee.png")], capture_output=True, text=True)
        self.assertEqual(result.returncode, 1)
        self.assertIn("no_such_model", result.stderr)
        self.assertFalse(os.path.exists(self.out) and os.listdir(self.out))


class TestFiles(CliTestCase):
    """Existing files: outputs replaced only with --overwrite, inputs never."""

    def test_existing_output_needs_overwrite(self):
        os.makedirs(self.out)
        target = os.path.join(self.out, "product_coffee.png")
        with open(target, "wb") as f:
            f.write(b"old content")
        result = run_cli("-o", self.out, photo("product_coffee.png"), photo("portrait_astronaut.png"))
        self.assertEqual(result.returncode, 1)
        lines = error_lines(result.stderr)
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn("already exists", lines[0])
        self.assertIn("--overwrite", lines[0])
        with open(target, "rb") as f:
            self.assertEqual(f.read(), b"old content")
        self.assertTrue(os.path.exists(os.path.join(self.out, "portrait_astronaut.png")))

        result = run_cli("-o", self.out, "--overwrite", photo("product_coffee.png"))
        self.assertEqual(result.returncode, 0, result.stderr)
        rgb = np.array(Image.open(photo("product_coffee.png")).convert("RGB"))
        self.assert_cutout_of(target, rgb)
        self.assert_no_temp_files(self.out)

    def test_an_input_is_never_overwritten(self):
        d = self.path("photos")
        os.makedirs(d)
        src = os.path.join(d, "coffee.png")
        shutil.copy(photo("product_coffee.png"), src)
        with open(src, "rb") as f:
            before = f.read()
        for extra in ([], ["--overwrite"]):
            result = run_cli("-o", d, *extra, src)
            self.assertEqual(result.returncode, 1, result.stderr)
            lines = error_lines(result.stderr)
            self.assertEqual(len(lines), 1, result.stderr)
            self.assertIn("input", lines[0])
            with open(src, "rb") as f:
                self.assertEqual(f.read(), before)
        # The output directory under another name (a symbolic link): the
        # output's path differs from the input's, the file is the same.
        alias = self.path("alias")
        os.symlink(d, alias)
        result = run_cli("-o", alias, "--overwrite", src)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("input", result.stderr)
        with open(src, "rb") as f:
            self.assertEqual(f.read(), before)
        self.assert_no_temp_files(d)

    def test_two_inputs_with_one_output_name(self):
        d = self.path("in")
        os.makedirs(d)
        Image.open(photo("product_coffee.png")).save(os.path.join(d, "x.png"))
        Image.open(photo("animal_fur_chelsea.png")).save(os.path.join(d, "x.jpg"))
        result = run_cli("-o", self.out, "--overwrite", d)
        self.assertEqual(result.returncode, 1)
        lines = error_lines(result.stderr)
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn("x.png", lines[0])
        self.assertIn("also the output of", lines[0])
        # The first (sorted: x.jpg) won; its pixels are in x.png.
        rgb = np.array(Image.open(os.path.join(d, "x.jpg")).convert("RGB"))
        self.assert_cutout_of(os.path.join(self.out, "x.png"), rgb)

    def test_a_failed_write_leaves_no_file(self):
        # Files may grow to 64 KiB only: the small image fits, the photo
        # does not, and its write fails half-way (EFBIG, SIGXFSZ ignored).
        small = self.path("small.png")
        Image.open(photo("product_coffee.png")).resize((40, 30)).save(small)

        def limit_file_size():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

        result = subprocess.run([CLI, "--model", MODEL, "-o", self.out, "--mask", small,
                                 photo("product_coffee.png")],
                                capture_output=True, text=True, preexec_fn=limit_file_size)
        self.assertEqual(result.returncode, 1, result.stderr)
        lines = error_lines(result.stderr)
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertIn("product_coffee.png", lines[0])
        self.assertIn("File too large", lines[0])
        self.assertEqual(sorted(os.listdir(self.out)), ["small.png", "small_mask.png"])
        self.assert_no_temp_files(self.out)

    def test_output_dir_that_is_a_file(self):
        blocker = self.path("file")
        open(blocker, "w").close()
        result = run_cli("-o", blocker, photo("product_coffee.png"))
        self.assertEqual(result.returncode, 1)
        self.assertIn("not a directory", result.stderr)


class TestFileLists(CliTestCase):
    """--files-from FILE|- and --shard I/N."""

    def make_images(self, count):
        """`count` small crops of the example photos, PNG and JPEG; sorted paths."""
        d = self.path("images")
        os.makedirs(d)
        names = ["animal_fur_chelsea.png", "portrait_astronaut.png", "portrait_hair_kodim04.png",
                 "product_coffee.png"]
        for k in range(count):
            with Image.open(photo(names[k % len(names)])) as im:
                crop = im.convert("RGB").crop((k * 13, k * 17, k * 13 + 50 + k, k * 17 + 40))
            crop.save(os.path.join(d, f"im{k}" + (".jpg" if k % 3 == 2 else ".png")))
        return sorted(os.path.join(d, n) for n in os.listdir(d))

    def outputs(self, folder):
        if not os.path.isdir(folder):
            return {}
        result = {}
        for name in os.listdir(folder):
            with open(os.path.join(folder, name), "rb") as f:
                result[name] = f.read()
        return result

    def write_list(self, lines, name="list.txt"):
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(b"".join(line + b"\n" for line in lines))
        return path

    def test_a_list_reads_like_arguments(self):
        images = self.make_images(5)
        reference = self.path("reference")
        result = run_cli("-q", "--mask", "-o", reference, *images)
        self.assertEqual(result.returncode, 0, result.stderr)
        # Files and a directory, between empty lines; the list is read from
        # a file, then from standard input.
        listing = self.write_list([images[0].encode(), b"", os.path.dirname(images[0]).encode(),
                                   b""])
        from_file = run_cli("-q", "--mask", "-o", self.path("a"), "--files-from", listing)
        self.assertEqual(from_file.returncode, 1, from_file.stderr)
        lines = error_lines(from_file.stderr)
        self.assertEqual(len(lines), 1, from_file.stderr)  # im0 is listed twice
        self.assertIn("also the output of", lines[0])
        self.assertEqual(self.outputs(self.path("a")), self.outputs(reference))
        with open(self.write_list([p.encode() for p in images], "plain.txt"), "rb") as f:
            from_stdin = subprocess.run([CLI, "--model", MODEL, "-q", "--mask", "-o",
                                         self.path("b"), "--files-from", "-"], stdin=f,
                                        capture_output=True, text=True, timeout=600)
        self.assertEqual(from_stdin.returncode, 0, from_stdin.stderr)
        self.assertEqual(self.outputs(self.path("b")), self.outputs(reference))

    def test_bad_lists(self):
        images = self.make_images(1)
        missing = run_cli("-o", self.out, "--files-from", self.path("nope.txt"))
        self.assertEqual(missing.returncode, 1)
        self.assertEqual(error_lines(missing.stderr),
                         [f"cutout: --files-from {self.path('nope.txt')}: cannot open: No such "
                          f"file or directory"])
        nul = self.write_list([images[0].encode(), b"a\0b"])
        result = run_cli("-o", self.out, "--files-from", nul)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(error_lines(result.stderr),
                         [f"cutout: --files-from {nul}: line 2: holds a NUL byte (expected one "
                          f"path per line)"])
        self.assertEqual(self.outputs(self.out), {}, "an image ran from a list that failed")
        absent = self.write_list([images[0].encode(), self.path("absent.png").encode()])
        result = run_cli("-o", self.out, "--files-from", absent)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(error_lines(result.stderr),
                         [f"cutout: {self.path('absent.png')}: cannot open: No such file or "
                          f"directory"])
        self.assertEqual(sorted(self.outputs(self.out)), ["im0.png"])

    def test_shards_split_the_list_exactly(self):
        images = self.make_images(7)
        reference = self.path("reference")
        self.assertEqual(run_cli("-q", "-o", reference, *images).returncode, 0)
        # A bad entry takes a position too, and one shard reports it.
        listing = self.write_list([p.encode() for p in images[:3]] +
                                  [self.path("absent.png").encode()] +
                                  [p.encode() for p in images[3:]])
        seen = {}
        reported = 0
        for index in range(3):
            out = self.path(f"shard{index}")
            result = run_cli("-q", "-o", out, "--files-from", listing, "--shard", f"{index}/3")
            lines = error_lines(result.stderr)
            reported += len(lines)
            self.assertEqual(result.returncode, 1 if lines else 0, result.stderr)
            produced = self.outputs(out)
            positions = [k for k in range(8) if k % 3 == index and k != 3]
            expected = {os.path.basename(([*images[:3], None, *images[3:]])[k])[:-4] + ".png"
                        for k in positions}
            self.assertEqual(set(produced), expected, f"shard {index}/3")
            for name, data in produced.items():
                self.assertNotIn(name, seen, f"{name} made by two shards")
                seen[name] = data
        self.assertEqual(reported, 1)
        self.assertEqual(seen, self.outputs(reference))
        # One shard of one is everything.
        whole = run_cli("-q", "-o", self.path("whole"), "--shard", "0/1", *images)
        self.assertEqual(whole.returncode, 0, whole.stderr)
        self.assertEqual(self.outputs(self.path("whole")), self.outputs(reference))

    def test_bad_shards_and_lists_are_usage_errors(self):
        for value in ("3/3", "a/2", "1/0", "-1/2", "1/", "/2", "1/2/3", "2", "0/1000001"):
            with self.subTest(shard=value):
                r = subprocess.run([CLI, "--shard", value, "x.png"], capture_output=True,
                                   text=True)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stderr.splitlines(), [
                    "cutout: --shard: expected I/N with 1 <= N <= 1000000 and 0 <= I < N "
                    f"(e.g. 0/4), got '{value}'", "Try 'cutout --help'."])
        r = subprocess.run([CLI, "--files-from="], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--files-from: expected a file or '-', got ''", r.stderr)


class TestUsage(CliTestCase):
    def test_info_options_exit_0(self):
        version = subprocess.run([CLI, "--version"], capture_output=True, text=True)
        self.assertEqual(version.returncode, 0)
        self.assertRegex(version.stdout, r"^cutout \d+\.\d+\.\d+ \(ABI \d+, libtorch \d+\.\d+")
        usage = subprocess.run([CLI, "--help"], capture_output=True, text=True)
        self.assertEqual(usage.returncode, 0)
        for option in ("--output", "--model", "--mask", "--mask-only", "--overwrite",
                       "--batch-size", "--threads", "--quiet", "--list-models", "--version",
                       "--files-from", "--shard"):
            self.assertIn(option, usage.stdout)
        models = subprocess.run([CLI, "--list-models"], capture_output=True, text=True)
        self.assertEqual(models.returncode, 0, models.stderr)
        self.assertIn("tiny", models.stdout.split())

    def test_list_models_shows_licence_and_source_from_the_manifest(self):
        folder = self.path("models")
        os.makedirs(folder)
        source = os.path.join(os.environ["CUTOUT_MODEL_PATH"], f"{MODEL}.pt")
        for name in ("listed", "unlisted"):
            shutil.copy(source, os.path.join(folder, f"{name}.pt"))
        with open(os.path.join(folder, "manifest.json"), "w") as f:
            f.write('{"format": 1, "models": {"listed": {"file": "listed.pt", "meta": '
                    '{"license": "Apache-2.0", "source": "npm example-package@1.0.0 dist/listed.onnx"}}}}')
        env = dict(os.environ, CUTOUT_MODEL_PATH=folder)
        result = subprocess.run([CLI, "--list-models"], capture_output=True, text=True, env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        rows = {line.split()[0]: line for line in result.stdout.splitlines()}
        self.assertRegex(rows["listed"], r"^listed +Apache-2\.0 +npm example-package@1\.0\.0 dist/listed\.onnx +"
                         + re.escape(os.path.join(folder, "listed.pt")) + "$")
        self.assertRegex(rows["unlisted"], r"^unlisted +unknown +\(not in the folder's manifest\.json\) ")

    def test_bad_usage_exits_2_with_one_line_and_a_pointer_to_the_help(self):
        cases = {
            ("--bogus", "x.png"): "unknown option '--bogus'",
            ("-z", "x.png"): "unknown option '-z'",
            ("--batch-size", "0", "x.png"): "--batch-size: expected an integer from 1 to 64, got '0'",
            ("--batch-size=65", "x.png"): "got '65'",
            ("--threads", "two", "x.png"): "--threads: expected an integer",
            ("-o",): "--output: expected a value",
            ("--mask=yes", "x.png"): "--mask takes no value",
            (): "no input",
        }
        for args, message in cases.items():
            with self.subTest(args=args):
                r = subprocess.run([CLI, *args], capture_output=True, text=True)
                self.assertEqual(r.returncode, 2, r.stderr)
                lines = r.stderr.splitlines()
                self.assertEqual(len(lines), 2, r.stderr)
                self.assertTrue(lines[0].startswith("cutout: ") and message in lines[0], r.stderr)
                self.assertEqual(lines[1], "Try 'cutout --help'.")

    def test_progress_bar_only_on_a_terminal(self):
        args = [CLI, "--model", MODEL, "-o", self.out, photo("product_coffee.png"),
                photo("animal_fur_chelsea.png")]
        piped = subprocess.run(args, capture_output=True, text=True)
        self.assertEqual(piped.returncode, 0, piped.stderr)
        self.assertNotIn("\r", piped.stderr)
        self.assertNotIn("[#", piped.stderr)

        master, slave = pty.openpty()
        proc = subprocess.Popen(args + ["--overwrite"], stdout=subprocess.DEVNULL,
                                stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        chunks = []
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                break
            try:
                data = os.read(master, 4096)
            except OSError:  # the terminal closes when the program exits
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        self.assertEqual(proc.wait(timeout=60), 0)
        seen = b"".join(chunks).decode()
        self.assertIn("2/2 images", seen)
        self.assertIn("[" + "#" * 30 + "]", seen)
        self.assertIn("2 images: 2 done, 0 failed", seen)

    def test_quiet_prints_only_errors(self):
        result = run_cli("-q", "-o", self.out, photo("product_coffee.png"),
                         self.path("missing.png"))
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr.splitlines(),
                         [f"cutout: {self.path('missing.png')}: cannot open: No such file or directory"])


class TestInterrupt(CliTestCase):
    def test_sigint_stops_cleanly_with_130(self):
        d = self.path("many")
        os.makedirs(d)
        src = photo("portrait_astronaut.png")
        count = 200
        for i in range(count):
            os.symlink(src, os.path.join(d, f"p{i:03d}.png"))
        proc = subprocess.Popen([CLI, "--model", MODEL, "-o", self.out, d],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Wait until the first result is written, then interrupt.
        first = os.path.join(self.out, "p000.png")
        while not os.path.exists(first) and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 130, stderr)
        match = re.search(r"cutout: interrupted: (\d+) of 200 images done", stderr)
        self.assertIsNotNone(match, stderr)
        written = sorted(os.listdir(self.out))
        self.assertEqual(len(written), int(match.group(1)))
        self.assertLess(len(written), count)
        self.assertEqual(written, [f"p{i:03d}.png" for i in range(len(written))])
        self.assert_no_temp_files(self.out)
        for name in written:  # every file that exists is complete
            self.assertEqual(load(os.path.join(self.out, name))[1].shape, (512, 512, 4))


class TestEdgeOptions(CliTestCase):
    """The command's edge and background options reach the Advanced and
    Composite nodes and change the output the way the nodes promise."""

    def cut(self, *args, name="product_coffee.png"):
        r = run_cli("--overwrite", "-o", self.out, *args, photo(name))
        self.assertEqual(r.returncode, 0, r.stderr)
        mode, pixels = load(os.path.join(self.out, os.path.splitext(name)[0] + ".png"))
        return mode, pixels

    def test_threshold_gives_a_hard_cut(self):
        _, rgba = self.cut("--threshold", "0.5")
        self.assertEqual(set(np.unique(rgba[..., 3])), {0, 255})

    def test_invert_flips_the_alpha(self):
        _, plain = self.cut()
        _, inverted = self.cut("--invert")
        np.testing.assert_array_equal(inverted[..., :3], plain[..., :3])
        # 8-bit rounding of a and 1 - a can differ by one step.
        diff = np.abs(inverted[..., 3].astype(int) - (255 - plain[..., 3].astype(int)))
        self.assertLessEqual(diff.max(), 1)

    def test_grow_and_blur_change_the_matte(self):
        _, plain = self.cut("--threshold", "0.5")
        _, grown = self.cut("--threshold", "0.5", "--grow", "6")
        _, shrunk = self.cut("--threshold", "0.5", "--grow", "-6")
        area = lambda rgba: int((rgba[..., 3] > 127).sum())
        self.assertGreater(area(grown), area(plain))
        self.assertLess(area(shrunk), area(plain))
        _, blurred = self.cut("--threshold", "0.5", "--blur", "4")
        soft = lambda rgba: int(((rgba[..., 3] > 0) & (rgba[..., 3] < 255)).sum())
        self.assertGreater(soft(blurred), soft(plain))

    def test_background_colour_writes_opaque_rgb(self):
        # A hard cut, so that pixels are fully opaque or fully transparent.
        mode, rgb = self.cut("--threshold", "0.5", "--bg-color", "#00ff00")
        self.assertEqual(mode, "RGB")
        _, rgba = self.cut("--threshold", "0.5")
        opaque = rgba[..., 3] == 255
        transparent = rgba[..., 3] == 0
        self.assertTrue(opaque.any() and transparent.any())
        np.testing.assert_array_equal(rgb[opaque], rgba[..., :3][opaque])
        self.assertTrue((rgb[transparent] == [0, 255, 0]).all())

    def test_crop_and_letterbox_keep_sizes_consistent(self):
        _, full = self.cut("--threshold", "0.5")
        _, cropped = self.cut("--threshold", "0.5", "--crop", "0")
        ys, xs = np.nonzero(full[..., 3])
        self.assertEqual(cropped.shape[:2], (ys.max() - ys.min() + 1, xs.max() - xs.min() + 1))
        _, letterboxed = self.cut("--fit", "letterbox", "--resolution", "256")
        self.assertEqual(letterboxed.shape, full.shape)

    def test_every_advanced_input_is_an_option_read_from_nodes_json(self):
        # The command derives its node options from the library's nodes.json:
        # each settable input of the Advanced node is a flag (the output
        # layout excepted, which the command sets itself), listed in the help
        # with its range or choices.
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "nodes.json")) as f:
            nodes = {n["id"]: n for n in json.load(f)["nodes"]}
        usage = subprocess.run([CLI, "--help"], capture_output=True, text=True).stdout
        settable = {"INT", "FLOAT", "BOOLEAN", "COMBO", "STRING"}
        inputs = [i for i in nodes["CutoutRemoveBackgroundAdvanced"]["inputs"]
                  if i["type"] in settable and i["name"] != "output"]
        self.assertGreater(len(inputs), 15)
        for spec in inputs:
            flag = "--" + spec["name"].replace("_", "-")
            self.assertRegex(usage, r"(?m)^  (-\w, )?\s*" + re.escape(flag) + r"\b", flag)
            for option in spec.get("options", []):
                self.assertIn(option, usage, flag)

    def test_an_option_named_after_a_node_input_reaches_the_node(self):
        # --mask-convention has no code of its own in the command: the flag
        # comes from nodes.json, and LoadImage's polarity inverts the MASK.
        r = run_cli("--overwrite", "--mask-only", "-o", self.path("plain"), photo("product_coffee.png"))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run_cli("--overwrite", "--mask-only", "--mask-convention", "LoadImage", "-o",
                    self.path("inverted"), photo("product_coffee.png"))
        self.assertEqual(r.returncode, 0, r.stderr)
        _, plain = load(self.path("plain", "product_coffee.png"))
        _, inverted = load(self.path("inverted", "product_coffee.png"))
        diff = np.abs(inverted.astype(int) - (255 - plain.astype(int)))
        self.assertLessEqual(diff.max(), 1)
        self.assertGreater(np.abs(inverted.astype(int) - plain.astype(int)).mean(), 50)
        bad = run_cli("--mask-convention", "upside-down", "-o", self.out, photo("product_coffee.png"))
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--mask-convention: expected foreground = 1 or LoadImage, got 'upside-down'",
                      bad.stderr)

    def test_bad_edge_options_are_usage_errors(self):
        for args in (["--threshold", "2"], ["--grow", "65"], ["--fit", "squash"],
                     ["--resolution", "300"], ["--bg-color", "green"],
                     ["--bg-color", "#000000", "--bg-image", photo("product_coffee.png")]):
            r = run_cli("-o", self.out, *args, photo("product_coffee.png"))
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertEqual(r.stderr.splitlines()[-1], "Try 'cutout --help'.", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(self.out, "product_coffee.png")))


class TestHost(CliTestCase):
    def test_host_lists_the_nodes(self):
        r = subprocess.run([HOST, LIBRARY], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("CutoutRemoveBackground", r.stdout)
        self.assertRegex(r.stdout, r"input\s+batch_size\s+INT\s+required\s+default 1\s+range 1\.\.64")
        self.assertRegex(r.stdout, r"input\s+model\s+COMBO\s+required\s+default \"isnet\"")

    def test_host_runs_the_node_on_a_photo(self):
        path = photo("product_coffee.png")
        r = subprocess.run([HOST, LIBRARY, "CutoutRemoveBackground", path, f"model={MODEL}"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        image = re.search(r"output IMAGE: float32 \[1, 400, 600, 4\] mean alpha ([0-9.]+)", r.stdout)
        mask = re.search(r"output MASK: float32 \[1, 400, 600\] mean alpha ([0-9.]+)", r.stdout)
        self.assertIsNotNone(image, r.stdout)
        self.assertIsNotNone(mask, r.stdout)
        self.assertEqual(image.group(1), mask.group(1))
        self.assertIn("progress 1/1", r.stdout)
        # The same image through the command: the same mean alpha.
        cli = run_cli("--mask-only", "-o", self.out, path)
        self.assertEqual(cli.returncode, 0, cli.stderr)
        mean = load(os.path.join(self.out, "product_coffee.png"))[1].mean() / 255.0
        self.assertAlmostEqual(float(mask.group(1)), mean, delta=0.002)
        self.assertTrue(0.05 < mean < 0.95)

    def test_host_on_a_generated_image_and_bad_calls(self):
        r = subprocess.run([HOST, LIBRARY, "CutoutRemoveBackground", f"model={MODEL}"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("output IMAGE: float32 [1, 256, 256, 4]", r.stdout)
        r = subprocess.run([HOST, LIBRARY, "NoSuchNode"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no node 'NoSuchNode'", r.stderr)
        r = subprocess.run([HOST, LIBRARY, "CutoutRemoveBackground", "batch_size=0",
                            f"model={MODEL}"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("batch_size", r.stderr)
        r = subprocess.run([HOST, self.path("nothing.so")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot load", r.stderr)


if __name__ == "__main__":
    missing = [name for name, value in (("CUTOUT_CLI", CLI), ("CUTOUT_HOST", HOST),
                                        ("CUTOUT_LIBRARY", LIBRARY),
                                        ("CUTOUT_TEST_PHOTOS", PHOTOS)) if not value]
    if missing:
        sys.exit(f"test_cli.py: set {', '.join(missing)} (see the docstring)")
    unittest.main()
