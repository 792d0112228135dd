"""Synthetic panels with a known truth: city panels on the real city list, province panels."""
