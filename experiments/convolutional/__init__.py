"""Convolutional networks on digits: where dropout goes in a CNN, with BatchNorm (findings B65-B72,
CLAIMS.md)."""
