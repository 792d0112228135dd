# Reference fixtures for climetrics.estimate.spatial (weights and Moran's I), produced with R spdep.
#
# Usage (from the repository root; needs r-cran-spdep, r-cran-spdata, r-cran-sf, r-cran-jsonlite):
#   Rscript tools/reference/spatial_moran.R
#
# Writes tests/data/reference/spatial_moran.json with
#   columbus  Anselin's (1988) Columbus, Ohio neighbourhood crime data (spData::columbus, 49
#             units): CRIME, HOVAL, INC, the GAL contiguity list col.gal.nb as 0-based edges, a
#             4-nearest-neighbour list on the planar X, Y coordinates (asymmetric), and per
#             variable and weights (contiguity row-standardised "W", binary "B", knn "W"):
#             moran.test under randomisation and normality (two-sided), moran.mc (9,999
#             permutations, seed 1) and localmoran (conditional and total variance, two-sided)
#             with spdep's "pysal" quadrants.
#   columbus_polygons  the Columbus neighbourhood outlines (spData shapes/columbus.shp) as rings
#             of [x, y] per unit (POLYID order), with poly2nb contiguity edges, queen and rook.
#   us_states spData::us_states (49 contiguous states and DC) centroid lon/lat (st_centroid on
#             the sphere) and the k = 4 nearest neighbours by great-circle distance
#             (knearneigh(longlat = TRUE)), plus the states within 500 km (dnearneigh) with
#             their distances (nbdists, km).
# The tests read this file only; they never call R.

suppressPackageStartupMessages({
  library(spdep)
  library(sf)
  library(jsonlite)
})

edges <- function(nb) {
  a <- rep(seq_along(nb), card(nb))
  b <- unlist(nb[card(nb) > 0])
  list(a = a - 1L, b = as.integer(b) - 1L)
}

moran_tests <- function(x, lw) {
  r <- moran.test(x, lw, randomisation = TRUE, alternative = "two.sided")
  nrm <- moran.test(x, lw, randomisation = FALSE, alternative = "two.sided")
  set.seed(1)
  mc <- moran.mc(x, lw, nsim = 9999, alternative = "greater")
  lc <- localmoran(x, lw, conditional = TRUE)
  lt <- localmoran(x, lw, conditional = FALSE)
  list(
    I = unname(r$estimate[1]), EI = unname(r$estimate[2]),
    VI_randomisation = unname(r$estimate[3]), z_randomisation = unname(r$statistic),
    p_randomisation = r$p.value,
    VI_normality = unname(nrm$estimate[3]), z_normality = unname(nrm$statistic),
    p_normality = nrm$p.value,
    mc_p_greater = mc$p.value,
    local_conditional = list(Ii = unname(lc[, 1]), E = unname(lc[, 2]), Var = unname(lc[, 3]),
                             z = unname(lc[, 4]), p = unname(lc[, 5])),
    local_total = list(Ii = unname(lt[, 1]), E = unname(lt[, 2]), Var = unname(lt[, 3]),
                       z = unname(lt[, 4]), p = unname(lt[, 5])),
    quadrant = as.character(attr(lc, "quadr")$pysal)
  )
}

data(columbus, package = "spData")
nb <- col.gal.nb
knn <- knn2nb(knearneigh(cbind(columbus$X, columbus$Y), k = 4))
weights <- list(
  contiguity_W = nb2listw(nb, style = "W"),
  contiguity_B = nb2listw(nb, style = "B"),
  knn4_W = nb2listw(knn, style = "W")
)
results <- list()
for (v in c("CRIME", "HOVAL", "INC")) {
  for (w in names(weights)) results[[paste(v, w, sep = "|")]] <- moran_tests(columbus[[v]], weights[[w]])
}
columbus_out <- list(
  id = columbus$POLYID, CRIME = columbus$CRIME, HOVAL = columbus$HOVAL, INC = columbus$INC,
  X = columbus$X, Y = columbus$Y, contiguity = edges(nb), knn4 = edges(knn), results = results
)

col_sf <- st_read(system.file("shapes/columbus.shp", package = "spData"), quiet = TRUE)
stopifnot(all(col_sf$POLYID == seq_len(nrow(col_sf))))
rings <- lapply(st_geometry(col_sf), function(g) {
  xy <- st_coordinates(g)
  ring_id <- interaction(xy[, "L1"], if ("L2" %in% colnames(xy)) xy[, "L2"] else 1, drop = TRUE)
  unname(lapply(split(seq_len(nrow(xy)), ring_id), function(i) unname(xy[i, 1:2])))
})
polygons_out <- list(
  rings = rings,
  queen = edges(poly2nb(col_sf, queen = TRUE)),
  rook = edges(poly2nb(col_sf, queen = FALSE))
)

data(us_states, package = "spData")
cent <- st_coordinates(st_centroid(st_geometry(us_states)))
ll <- cent[, 1:2]
knn_us <- knn2nb(knearneigh(ll, k = 4, longlat = TRUE))
d500 <- dnearneigh(ll, 0, 500, longlat = TRUE)
us_out <- list(
  name = us_states$NAME, lon = unname(ll[, 1]), lat = unname(ll[, 2]),
  knn4 = edges(knn_us), within500 = edges(d500),
  within500_km = unlist(nbdists(d500, ll, longlat = TRUE))
)

out <- list(
  versions = list(R = R.version.string, spdep = as.character(packageVersion("spdep")),
                  spData = as.character(packageVersion("spData"))),
  columbus = columbus_out, columbus_polygons = polygons_out, us_states = us_out
)
dir.create(file.path("tests", "data", "reference"), showWarnings = FALSE, recursive = TRUE)
write_json(out, file.path("tests", "data", "reference", "spatial_moran.json"),
           digits = NA, auto_unbox = TRUE, pretty = FALSE)
