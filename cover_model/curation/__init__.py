"""Tools that look inside a dataset before anything is trained on it: near-duplicate covers
across splits (``leaks``), the covers on a 2-D map by their embeddings (``style_map``), and
covers whose genre label a model doubts (``label_review``)."""
