"""speech.asr's evaluation figure: a clip's spectrogram above its CTC posteriors, with the decoded
characters where the network emits them (what one looks at when CTC "outputs only blanks")."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfzoo.common.plots import cjk_font, new_figure, save_figure

STEP_SECONDS = 0.01  # MFCC hop; a network step is frame_stride of them


def _label(char: str, font: str | None) -> str:
    if char == " ":
        return "␣"
    if ord(char) > 0x2FFF and font is None:
        return f"U+{ord(char):04X}"
    return char


def _text(text: str, font: str | None, limit: int = 80) -> str:
    text = text[:limit]
    return text if font or all(ord(c) <= 0x2FFF for c in text) else "".join(
        c if c == " " else _label(c, font) for c in text)


def alignment(*, waveform: np.ndarray, rate: int, probabilities: np.ndarray, characters: list[str],
              stride: int, reference: str, decoded: str, out_png: Path) -> Path:
    """Plot one clip: log-power spectrogram (25 ms windows, 10 ms hop) over time, and below it the
    per-step posterior of the blank and of every character the network ever prefers, each emitted
    character (the greedy path) written at its step. `probabilities` [T', C] is softmax output."""
    from scipy.signal import spectrogram

    font = cjk_font() if any(ord(c) > 0x2FFF for c in reference + decoded) else None
    fig = new_figure()
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1]})
    window, hop = int(0.025 * rate), int(STEP_SECONDS * rate)
    freqs, times, power = spectrogram(waveform, fs=rate, nperseg=window, noverlap=window - hop, nfft=512)
    top.pcolormesh(times, freqs / 1000, 10 * np.log10(power + 1e-10), shading="auto", cmap="magma")
    top.set_ylabel("kHz")
    kwargs = {"fontfamily": font} if font else {}
    top.set_title(f"reference: {_text(reference, font)}", fontsize=9, loc="left", **kwargs)

    steps = np.arange(len(probabilities)) * stride * STEP_SECONDS
    blank = probabilities.shape[1] - 1
    best = probabilities.argmax(axis=1)
    bottom.plot(steps, probabilities[:, blank], color="0.7", linewidth=1, label="blank")
    for c in sorted(set(best.tolist()) - {blank}):
        bottom.plot(steps, probabilities[:, c], linewidth=1)
    previous = -1
    for t, c in enumerate(best):
        if c != blank and c != previous:
            bottom.text(steps[t], min(probabilities[t, c] + 0.03, 1.02), _label(characters[c], font),
                        ha="center", va="bottom", fontsize=8, **kwargs)
        previous = c
    bottom.set_ylim(0, 1.12)
    bottom.set_xlim(0, max(times[-1] if len(times) else 0, steps[-1] if len(steps) else 0))
    bottom.set_xlabel("seconds")
    bottom.set_ylabel("CTC posterior")
    bottom.legend(loc="upper right", fontsize=8)
    bottom.set_title(f"decoded (greedy): {_text(decoded, font)}", fontsize=9, loc="left", **kwargs)
    fig.tight_layout()
    return save_figure(fig, out_png)
