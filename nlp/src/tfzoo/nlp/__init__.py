"""tfzoo-nlp: text tools, character language models, a name generator and word2vec."""
