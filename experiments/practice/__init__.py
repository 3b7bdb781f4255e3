"""The practitioner's questions, answered exactly for trained networks: how many MC-dropout passes,
which rate, where underfitting begins, what dropout costs in training (findings B73-, CLAIMS.md)."""
