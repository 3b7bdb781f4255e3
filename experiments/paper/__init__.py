"""The paper's figures: one study per figure, each judging claims C1-C17 (CLAIMS.md)."""
