"""Beyond the paper: its findings under the dropouts people use (findings B2-B32, CLAIMS.md)."""
