"""Endogeneity: instrumental variables (2SLS) and dynamic panel GMM."""
