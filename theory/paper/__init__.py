"""The paper's constructions and closed forms (Helmbold & Long, COLT 2017 / JMLR 2018), claim by claim.

Each module builds the networks and distributions of one part of the paper and states its closed
forms; the engine in :mod:`theory` (exact evaluation, Monte Carlo, brute force) judges them. Claim IDs
(C1-C17) refer to CLAIMS.md.
"""
