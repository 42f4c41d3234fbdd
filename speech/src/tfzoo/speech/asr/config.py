"""Every knob of speech.asr (实例68, the spec's asr-birnn-ctc), as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from tfzoo.common.settings import OptimConfig, TrainConfig

# tfzoo.speech.features' normalisations (a test keeps the two equal): that module imports TensorFlow,
# and a config module must not, so `tfzoo info` stays fast
Normalisation = Literal["utterance_global", "utterance_cmvn", "dataset_cmvn"]

Decoder = Literal["beam", "beam_lm", "greedy"]
EvalDecoder = Literal["beam", "greedy"]  # in the graph, so periodic evaluation can run it
Language = Literal["en", "zh"]
Init = Literal["glorot", "normal"]
# The book's THCHS-30 run: 8,911 clips, batch 8, 100 epochs (S0 L11101, L11183, L14316).
BOOK_EPOCHS = 100
# Training clips of the default espeak-zh-en corpus (3,000 per language).
DEFAULT_TRAIN_CLIPS = 6000


@dataclass(frozen=True)
class ASRConfig:
    """BiRNN-CTC speech recognition: MFCC ±9 context -> 3 clipped-ReLU dense -> BiLSTM -> 2 dense -> CTC."""

    # what `tfzoo info` and `tfzoo list` say of the task (read without importing TensorFlow)
    DESCRIPTION: ClassVar[str] = (
        "speech recognition: MFCC ±9 context -> clipped-ReLU dense -> BiLSTM -> CTC (实例68); greedy and "
        "beam decoding, English and Mandarin"
    )
    DATA_SPECS: ClassVar[tuple[str, ...]] = (
        "espeak-zh-en (default; ?size=tiny|N&zh_input=pinyin&zh_word_spaces=1)",
        "thchs30:DIR?unit=chars|pinyin|phones&min_seconds=7.5",
        "ljspeech:DIR",
        "asr-csv:FILE",
    )

    PRESETS: ClassVar[tuple[str, ...]] = ("tiny", "augmented", "streaming", "book")
    RANGES: ClassVar[dict] = {
        "frame_stride": (1, None), "context": (0, None), "cmvn_clips": (1, None), "fc1": (1, None),
        "fc2": (1, None), "fc3": (1, None), "lstm_units": (1, None), "fc5": (1, None), "dropout": (0.0, 0.95),
        "relu_clip": (0.0, None), "init_std": (0.0, None), "beam": (1, None), "top_paths": (1, None),
        "lm_order": (1, 12), "lm_weight": (0.0, None), "lm_beam": (1, None), "time_masks": (0, None),
        "time_mask_frames": (1, None), "cepstral_masks": (0, None), "cepstral_mask_width": (1, 26),
        "speed_min": (0.5, 2.0), "speed_max": (0.5, 2.0),
    }

    data: str = "espeak-zh-en"
    # () keeps every language of the data (one model, one shared output alphabet); ("en",) or ("zh",)
    # keeps the clips whose transcript is in those languages (numbered pinyin counts as zh).
    languages: tuple[Language, ...] = ()
    # features, computed in the graph (tfzoo.speech.features): 26 MFCC every 10 ms, every
    # `frame_stride`-th frame, ±`context` frames stacked: 26 * (2 * context + 1) = 494 per step
    frame_stride: int = 2
    context: int = 9
    normalisation: Normalisation = "utterance_cmvn"
    cmvn_clips: int = 1000  # dataset_cmvn: training clips its statistics are measured on
    # model: the CPU-sized default; book() has the book's sizes
    fc1: int = 512
    fc2: int = 512
    fc3: int = 1024
    lstm_units: int = 256  # per direction
    fc5: int = 512
    dropout: float = 0.05  # after fc1-3 and fc5, and on the LSTM inputs (the book's keep 0.95)
    relu_clip: float = 20.0
    # False: a forward-only LSTM, for streaming (`tfzoo.speech.asr.streaming`; see the `streaming` preset)
    bidirectional: bool = True
    init: Init = "glorot"  # "normal": the book's N(0, init_std) for the dense kernels and biases
    init_std: float = 0.046875
    # length-bucketed batches (frames after decimation: 50 per second); off = padded batches in order
    bucketing: bool = True
    buckets: tuple[int, ...] = (100, 150, 200, 300, 450)
    # decoding: predict and export use `decoder` (the SavedModel runs beam for beam_lm), periodic
    # evaluation `eval_decoder`; `tfzoo evaluate` reports every decoder
    decoder: Decoder = "beam"
    beam: int = 100  # CTC beam width (the book's default, S0 L11010)
    top_paths: int = 1
    eval_decoder: EvalDecoder = "greedy"
    # beam_lm: prefix beam search with a character n-gram language model of the training transcripts
    # (tfzoo.speech.asr.lm): score = log P_ctc + lm_weight * log P_lm + lm_bonus * characters
    lm_order: int = 5
    # tuned on val of an English run (speech/benchmarks/lm_sweep.py; BENCHMARKS.md): 0.8 and 2.0 gave the
    # lowest val CER of weights 0.3-0.8 and bonuses 0.5-2
    lm_weight: float = 0.8
    lm_bonus: float = 2.0
    lm_beam: int = 32
    # training-time augmentation, because test voices are unseen: SpecAugment-style masks on the MFCC
    # frames before stacking (0 masks = off) and speed perturbation (resampling by a factor drawn
    # uniformly from [speed_min, speed_max]; 1.0 and 1.0 = off)
    time_masks: int = 0
    time_mask_frames: int = 10
    cepstral_masks: int = 0
    cepstral_mask_width: int = 4
    speed_min: float = 1.0
    speed_max: float = 1.0
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=12000, batch_size=32, log_every=50, eval_every=1000, ckpt_every=1000))
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(optimizer="adam", lr=1e-3))

    @property
    def feature_dim(self) -> int:
        """Features per step: 26 cepstra of the frame and of `context` frames on each side."""
        return 26 * (2 * self.context + 1)

    @classmethod
    def tiny(cls) -> ASRConfig:
        """A few-second configuration for tests: the 16-clip corpus and small widths."""
        base = cls()
        return replace(
            base, data="espeak-zh-en?size=tiny", fc1=32, fc2=32, fc3=48, lstm_units=24, fc5=32, beam=8,
            buckets=(100, 150),
            train=replace(base.train, steps=4, batch_size=4, log_every=1, eval_every=2, ckpt_every=2,
                          eval_batches=0),
        )

    @classmethod
    def augmented(cls) -> ASRConfig:
        """The default with SpecAugment-style masks (2 time masks of up to 10 steps, 2 of up to 4
        cepstra) and speed perturbation 0.9-1.1: for unseen voices and real recordings."""
        return replace(cls(), time_masks=2, cepstral_masks=2, speed_min=0.9, speed_max=1.1)

    @classmethod
    def streaming(cls) -> ASRConfig:
        """A forward-only LSTM on dataset-normalised features, so audio can be transcribed chunk by
        chunk as it arrives (`tfzoo.speech.asr.streaming.Streamer`) with the whole-clip result."""
        return replace(cls(), bidirectional=False, normalisation="dataset_cmvn", lstm_units=384)

    @classmethod
    def book(cls) -> ASRConfig:
        """实例68 as printed: 1024/1024/2048, BiLSTM 1024, fc5 1024, N(0, 0.046875), batch 8, Adam 1e-3,
        the book's one mean/std normalisation, 100 epochs (of the default corpus's 6,000 clips).

        The book's data is THCHS-30: `--data "thchs30:DIR?min_seconds=7.5&zh_word_spaces=1"`.
        """
        base = cls()
        return replace(
            base, fc1=1024, fc2=1024, fc3=2048, lstm_units=1024, fc5=1024, dropout=0.05, init="normal",
            init_std=0.046875, normalisation="utterance_global",
            train=replace(base.train, batch_size=8, steps=BOOK_EPOCHS * DEFAULT_TRAIN_CLIPS // 8, eval_every=5000,
                          ckpt_every=5000),
            optim=OptimConfig(optimizer="adam", lr=1e-3),
        )
