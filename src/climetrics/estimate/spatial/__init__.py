"""Spatial econometrics: weights, Moran's I, panel spatial models with fixed effects, effects.

Modules: :mod:`.weights` (the :class:`SpatialWeights` object and its constructors), :mod:`.moran`
(global and local Moran's I), :mod:`.models` (panel SAR / SEM / SDM by maximum likelihood with
Lee & Yu's correction), :mod:`.effects` (LeSage & Pace direct / indirect / total effects),
:mod:`.logdet` (log |I - rho W| for small and large N), :mod:`.lm_tests` (LM and LR/Wald tests).
"""
