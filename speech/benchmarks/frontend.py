"""Front-end benchmark: the `tf.signal` MFCC twin against python_speech_features (the reference) and librosa.

Parity is max |x - ref| / max(|ref|, 1) (`tfzoo.speech.features.max_relative_difference`), gated at
1e-3 against python_speech_features; librosa's Slaney mel bank is a different filterbank, so its
difference is reported, not gated. Speed is MFCC frames per second over the same clips, as ratios
to python_speech_features measured side by side in this run.

    python speech/benchmarks/run.py --only frontend [--quick]
"""

from __future__ import annotations

import time

import numpy as np

GATE = 1e-3
RATES = (8000, 16000, 22050, 44100)
FULL = {"clips": 40, "seconds": 3.0, "repeats": 3}
QUICK = {"clips": 4, "seconds": 1.0, "repeats": 1}


def _signals(rate: int, seconds: float, count: int) -> list[np.ndarray]:
    """Tones, chirps and noise: deterministic, band-rich test signals."""
    rng = np.random.default_rng(rate)
    t = np.arange(int(seconds * rate)) / rate
    out = []
    for i in range(count):
        kind = i % 3
        if kind == 0:
            x = 0.5 * np.sin(2 * np.pi * (200 + 50 * i) * t)
        elif kind == 1:
            x = 0.4 * np.sin(2 * np.pi * (100 + 1500 * t) * t)
        else:
            x = rng.uniform(-0.3, 0.3, t.size)
        out.append(x.astype(np.float32))
    return out


def _espeak_clips() -> list[tuple[str, np.ndarray, int]]:
    """The tiny corpus's test clips (real synthetic speech), at their own 22,050 Hz."""
    from tfzoo.speech import audio
    from tfzoo.speech.corpus import Recipe, ensure

    folder = ensure(Recipe.named("tiny"), progress=False)
    return [(path.stem, audio.load(path, rate=None), audio.probe(path).rate)
            for path in sorted((folder / "wavs").glob("*-test-*.wav"))]


def _rate(function, clips: list[np.ndarray], repeats: int) -> float:
    """MFCC frames per second of `function` over `clips` (best of `repeats`)."""
    frames = sum(len(function(x)) for x in clips)  # also warms up (tracing, caches)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for x in clips:
            function(x)
        best = min(best, time.perf_counter() - start)
    return frames / best


def run(quick: bool = False) -> str:
    """The markdown block: parity per rate and signal, then speed ratios."""
    import tensorflow as tf

    from tfzoo.speech import features as F

    budget = QUICK if quick else FULL
    rows = ["| signal | rate (Hz) | tf.signal vs python_speech_features | librosa (Slaney) vs python_speech_features |",
            "|---|---|---|---|"]
    worst = 0.0
    cases = [(f"tones/chirps/noise ×{budget['clips']}", rate, _signals(rate, budget["seconds"], budget["clips"]))
             for rate in RATES]
    cases += [(f"espeak {name}", rate, [x]) for name, x, rate in _espeak_clips()[: 2 if quick else None]]
    for name, rate, clips in cases:
        mfcc = F.MFCC(rate)
        ours = max(F.max_relative_difference(mfcc(x).numpy(), F.mfcc_reference(x, rate)) for x in clips)
        theirs = max(F.max_relative_difference(F.mfcc_reference(x, rate, backend="librosa"), F.mfcc_reference(x, rate))
                     for x in clips)
        worst = max(worst, ours)
        rows.append(f"| {name} | {rate} | {ours:.2e} | {theirs:.2e} |")
    verdict = "pass" if worst <= GATE else "FAIL"

    rate = 16000
    clips = _signals(rate, budget["seconds"], budget["clips"])
    mfcc = F.MFCC(rate)
    compiled = tf.function(mfcc.__call__, input_signature=[tf.TensorSpec([None], tf.float32)], reduce_retracing=True)

    stacked = np.stack(clips)
    speeds = {
        "python_speech_features (reference)": _rate(lambda x: F.mfcc_reference(x, rate), clips, budget["repeats"]),
        "tf.signal, eager": _rate(lambda x: mfcc(x).numpy(), clips, budget["repeats"]),
        "tf.signal, tf.function": _rate(lambda x: compiled(x).numpy(), clips, budget["repeats"]),
        "librosa (Slaney mel bank)": _rate(lambda x: F.mfcc_reference(x, rate, backend="librosa"), clips,
                                           budget["repeats"]),
    }
    # the whole set as one batch (equal lengths here), as a batched pipeline would call it
    batch_fn = tf.function(mfcc.__call__, input_signature=[tf.TensorSpec([None, None], tf.float32)])
    shape = batch_fn(stacked).shape
    batch_frames = shape[0] * shape[1]
    best = float("inf")
    for _ in range(budget["repeats"]):
        start = time.perf_counter()
        batch_fn(stacked).numpy()
        best = min(best, time.perf_counter() - start)
    speeds[f"tf.signal, one batch of {len(clips)}"] = batch_frames / best
    reference = speeds["python_speech_features (reference)"]
    speed_rows = ["| implementation | frames/s ÷ python_speech_features |", "|---|---|"]
    speed_rows += [f"| {name} | {value / reference:.2f} |" for name, value in speeds.items()]
    return "\n".join([
        "### Front-end: MFCC parity and speed",
        "",
        f"26 cepstra, 26 filters, 25 ms / 10 ms, pre-emphasis 0.97, lifter 22, c0 = log energy. Parity = "
        f"max |x − ref| / max(|ref|, 1) over every frame and coefficient; gate ≤ {GATE:g} for tf.signal: "
        f"**{verdict}** (worst {worst:.2e}).",
        "",
        *rows,
        "",
        f"Speed over {len(clips)} clips of {budget['seconds']:g} s at {rate} Hz (best of {budget['repeats']}):",
        "",
        *speed_rows,
        "",
    ])
