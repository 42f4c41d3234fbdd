"""tfzoo speech: the audio front-end, speech corpora and speech recognition on TensorFlow 2 / Keras 3.

`tfzoo.speech.audio` loads and saves audio, `tfzoo.speech.features` computes DeepSpeech-style
MFCC features (a python_speech_features reference and a `tf.signal` twin), `tfzoo.speech.text`
normalises transcripts and holds the character vocabulary, `tfzoo.speech.corpora` reads the
real corpora (`thchs30:DIR`, `ljspeech:DIR`, `asr-csv:FILE`).
"""
