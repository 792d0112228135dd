"""Robustness of the baseline: placebo tests, PSM-DID, timing shifts, concurrent policies, outliers."""
