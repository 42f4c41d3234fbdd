"""speech.asr: the book's BiRNN-CTC speech recogniser (实例68; the spec's asr-birnn-ctc).

`config` holds every knob (`ASRConfig`, presets `tiny` and `book`), `data` the in-graph input
pipeline (resampling, MFCC features, character ids, length buckets), `model` the network and its
CTC loss, `decode` greedy and beam decoding with the book's label error rate and the CER/WER
scores, `task` the `speech.asr` task registered under the `tfzoo.tasks` entry-point group.
"""
