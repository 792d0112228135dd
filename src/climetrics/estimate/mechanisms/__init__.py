"""Mechanisms and heterogeneity: mediation (Baron-Kenny, Sobel, bootstrap) and group differences."""
