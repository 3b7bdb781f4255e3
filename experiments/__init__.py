"""SGD-trained networks that reproduce the paper's results; judged with :mod:`theory`."""
