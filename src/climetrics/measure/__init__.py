"""Indicator construction: carbon accounting, DEA carbon performance, entropy-weight indices,
agglomeration, downscaling and gap filling.

* :func:`fossil_co2`, :func:`city_co2` -- IPCC-style CO2 accounting from fuel use (seed 001 eq. 9)
  and city energy use (seed 002);
* :func:`entropy_index` -- entropy-weight composite index (seeds 000, 002);
* :func:`location_quotient`, :func:`producer_service_agglomeration` -- specialisation (seed 002 eq. 6);
* :func:`capital_stock`, :func:`deflate` -- perpetual-inventory capital stock (Hall & Jones 1999)
  and real values by a rebased price index (seed 000's DEA inputs);
* :func:`city_light_sums`, :func:`read_geotiff`, :func:`boundary_error` -- city sums of a
  night-light GeoTIFF over the bundled city outlines (the downscaling proxy of seeds 000, 003);
* :func:`downscale` -- provincial totals to cities in proportion to a proxy (seed 000);
* :func:`fill_trailing` -- trailing years completed by a time-series forecast, each cell flagged (seed 003);
* :func:`digital_economy_value_added`, :func:`provincial_digital_economy` -- digital-economy value
  added from input-output tables (seed 001 eqs. 1-4, BEA method; layout in docs/io_tables.md).

Efficiency and productivity measurement by data envelopment analysis (DEA):

* :func:`nddf_performance` -- non-radial directional distance function with undesirable outputs
  and the total-factor carbon emission performance index (Zhou, Ang & Wang 2012; seed 000);
* :func:`ddf_efficiency` -- radial directional distance function (Chung, Fare & Grosskopf 1997);
* :func:`sbm_efficiency` -- SBM (Tone 2001), with undesirable outputs (Tone 2004) and
  super-efficiency (Tone 2002);
* :func:`radial_efficiency`, :func:`ccr`, :func:`bcc` -- CCR / BCC radial efficiency;
* :func:`malmquist_luenberger`, :func:`global_malmquist_luenberger` -- productivity change
  (Chung et al. 1997; Oh 2010) with their decompositions.

Every model takes contemporaneous, sequential, window or global frontiers and builds one HiGHS
LP per frontier, updating only the evaluated DMU's data between solves
(:mod:`climetrics.measure.dea`).
"""

from __future__ import annotations

from .agglomeration import location_quotient, producer_service_agglomeration
from .capital import capital_stock, deflate
from .carbon import city_co2, emission_factors, fossil_co2
from .dea import FRONTIERS, DEADataWarning, bcc, ccr, radial_efficiency
from .downscale import downscale
from .entropy import entropy_index
from .gapfill import fill_trailing
from .io_digital import digital_economy_value_added, provincial_digital_economy, read_io_table
from .malmquist import global_malmquist_luenberger, malmquist_luenberger
from .nddf import ddf_efficiency, default_weights, nddf_performance
from .nightlight import boundary_error, city_light_sums, read_geotiff
from .sbm import sbm_efficiency

__all__ = [
    "FRONTIERS",
    "DEADataWarning",
    "bcc",
    "boundary_error",
    "capital_stock",
    "ccr",
    "city_co2",
    "city_light_sums",
    "downscale",
    "emission_factors",
    "entropy_index",
    "digital_economy_value_added",
    "fill_trailing",
    "fossil_co2",
    "location_quotient",
    "producer_service_agglomeration",
    "provincial_digital_economy",
    "read_io_table",
    "ddf_efficiency",
    "deflate",
    "default_weights",
    "global_malmquist_luenberger",
    "malmquist_luenberger",
    "nddf_performance",
    "radial_efficiency",
    "read_geotiff",
    "sbm_efficiency",
]
