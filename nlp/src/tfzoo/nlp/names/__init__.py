"""nlp.names: a GRU character model that invents first names (实例47)."""
