"""Staggered adoption: Callaway-Sant'Anna, Sun-Abraham, BJS imputation, Goodman-Bacon, TWFE weights;
HonestDiD sensitivity to parallel-trends violations."""
