"""What people believe about dropout, judged exactly: the practitioner's rules and the
explicit-regulariser theories (findings B33-B49, CLAIMS.md)."""
