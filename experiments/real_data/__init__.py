"""Real data: the paper's questions on scikit-learn's bundled data sets (findings B50-B64,
CLAIMS.md)."""
