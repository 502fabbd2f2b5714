"""Temporal smoothing of frame batches (ctest label "model"), on U2-Netp.

Short synthetic videos with exact truth and exact motion
(tests/support/temporal_support.py, scenes()): the repository's bear moving
by a sub-pixel step a frame, turning and growing, two bears moving apart,
and the bear standing still under per-frame camera noise. Each runs through
the Advanced node as one batch, per frame (temporal 0) and with temporal
smoothing. On the moving videos the motion-compensated dtSSD (flicker along
the motion) must fall by at least 30%, on the still one dtSSD by at least
30%; MAE may rise by at most 3%, and the smoothing may add at most one frame
of lag. benchmarks/RESULTS.md has the measured margins.

The model is U2-Netp, not the default ISNet: what is under test is the
smoothing, and U2-Netp runs the frames here several times faster.
python3 -m benchmarks.temporal_benchmark measures ISNet.

skip_similar: on frames that differ by faint noise only, every frame after
the first gets exactly the first one's matte, where without it the mattes
differ; a frame of another scene in the middle goes through the model.

Usage: test_temporal.py LIBCUTOUT MODELS_DIR PHOTOS_DIR
"""

import os
import sys

import torch
from PIL import Image

from tests.support import edge_support as es
from tests.support import temporal_support as ts

STRENGTH = 0.6
FRAMES, HEIGHT, WIDTH = 10, 384, 512
VIDEOS = ("shift", "turn", "two", "noisy")
FLICKER_CUT = 0.30
MAE_RISE, MAX_LAG = 1.03, 1.0
MODEL = "u2netp"


def mattes(context, frames, temporal):
    return es.remove_background(context, frames, temporal=temporal, precision="fp32", model=MODEL)[1]


def skipped_frames(context, photos):
    """Failures (0 or 1) of the skip_similar check; prints what it saw."""
    with Image.open(os.path.join(photos, "rgba_bear_tuxpaint.png")) as bear:
        subject = ts.Subject(bear.convert("RGBA"), WIDTH * 0.4, (WIDTH * 0.5, HEIGHT * 0.5))
    still = ts.Scene([subject], ts.wooden_table(photos), HEIGHT, WIDTH, 5, noise=0.003).frames
    # Frames 0-2 and 4-5 differ by faint noise; frame 3 (the negative) is another scene.
    frames = torch.cat([still[:3], 1.0 - still[3:4], still[3:]]).contiguous()
    plain = es.remove_background(context, frames, precision="fp32", model=MODEL)[1]
    skipped = es.remove_background(context, frames, skip_similar=0.02, precision="fp32", model=MODEL)[1]
    reused = [bool(torch.equal(skipped[i], skipped[0])) for i in (1, 2)]
    noise_shows = not (torch.equal(plain[1], plain[0]) and torch.equal(plain[2], plain[0]))
    # Frames 3 and 4 each differ from the last predicted frame: both are
    # predicted; frame 5 is like frame 4 and reuses its matte.
    predicted = [bool(torch.allclose(skipped[i], plain[i], atol=1e-6)) for i in (3, 4)]
    last_reused = bool(torch.equal(skipped[5], skipped[4]))
    ok = all(reused) and noise_shows and all(predicted) and last_reused
    print(("ok   " if ok else "FAIL ") + f"skip_similar: frames 1-2 reuse frame 0's matte {reused} (without it "
          f"they differ: {noise_shows}); frames 3-4 predicted {predicted}; frame 5 reuses frame 4's "
          f"{last_reused}", flush=True)
    return 0 if ok else 1


def main():
    library, models, photos = sys.argv[1:4]
    context = es.model_context(library, models, MODEL)
    if context is None:
        return 1
    failures = skipped_frames(context, photos)
    scenes = ts.scenes(photos, HEIGHT, WIDTH, FRAMES, VIDEOS)
    for name in VIDEOS:
        scene = scenes[name]
        plain, smooth = mattes(context, scene.frames, 0.0), mattes(context, scene.frames, STRENGTH)
        # Still: flicker is plain dtSSD; moving: dtSSD along the true motion.
        metric, flicker = ("dtSSD", lambda m: ts.dtssd(m, scene.truth)) if name == "noisy" else \
            ("MC-dtSSD", lambda m: ts.mc_dtssd(m, scene))
        f0, f1 = flicker(plain), flicker(smooth)
        m0, m1 = ts.mae(plain, scene.truth), ts.mae(smooth, scene.truth)
        lag = ts.lag_frames(smooth, scene.truth) - ts.lag_frames(plain, scene.truth)
        ok = f1 <= (1.0 - FLICKER_CUT) * f0 and m1 <= MAE_RISE * m0 and lag <= MAX_LAG
        print(("ok   " if ok else "FAIL ") + f"{name}: {metric} {f0:.3f} -> {f1:.3f} "
              f"({100 * (1 - f1 / f0):.0f}% lower), MAE {m0:.4f} -> {m1:.4f}, lag added {lag:+.2f} frames",
              flush=True)
        failures += not ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
