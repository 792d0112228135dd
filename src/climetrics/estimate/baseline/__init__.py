"""Baseline estimates: two-way fixed effects (multi-period DID) and the event study."""
