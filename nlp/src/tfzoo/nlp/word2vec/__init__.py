"""nlp.word2vec: skip-gram and CBOW word vectors (实例70-71)."""
