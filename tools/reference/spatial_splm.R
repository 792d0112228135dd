# Reference fixtures for the splm / Elhorst conventions of climetrics.estimate.spatial.
#
# Usage (from the repository root; needs r-cran-plm, r-cran-spdep, r-cran-spatialreg,
# r-cran-maxlik, r-cran-bdsmatrix, r-cran-spam, r-cran-jsonlite and splm, which is not in
# Debian: R CMD INSTALL a source copy of CRAN's splm 1.6-x, e.g. github.com/cran/splm):
#   Rscript tools/reference/spatial_splm.R
#
# Data: tests/data/produc_plm.csv and tests/data/us_states_contiguity.csv (written by
# spatial_panel.R): plm::Produc and queen contiguity of the 48 states, row-standardised.
# Model: lgsp ~ lpcap + lpc + lemp + unemp.
#
# Writes tests/data/reference/spatial_splm.json with
#   spml.<effects>.<lag|error>  splm::spml(model = "within", effect = "individual" | "time" |
#       "twoways"): the fixed-effects SAR / SEM in splm's convention (y and X demeaned first,
#       W applied to the demeaned data; Elhorst 2003, 2014). Coefficients, rho / lambda,
#       sigma2 and the covariance splm reports.
#   sphtest.<lag|error>  splm::sphtest(fe, re) on spml(model = "within") and
#       spml(model = "random") fits with unit effects: the Hausman statistic over the common
#       coefficients, its df and p-value (splm returns abs() of the quadratic form), with both
#       fits' coefficients and covariances so the test can rebuild it.
# The tests read the JSON only; they never call R.

suppressPackageStartupMessages({
  library(plm)
  library(spdep)
  library(splm)
  library(jsonlite)
})

pr <- read.csv(file.path("tests", "data", "produc_plm.csv"))
nb <- read.csv(file.path("tests", "data", "us_states_contiguity.csv"))
states <- sort(unique(pr$state))
N <- length(states)
Wb <- matrix(0, N, N, dimnames = list(states, states))
Wb[cbind(match(nb$state, states), match(nb$neighbor, states))] <- 1
W <- Wb / rowSums(Wb)
lw <- mat2listw(W, style = "W")
pr <- pr[order(pr$state, pr$year), ]
pd <- pdata.frame(pr, index = c("state", "year"))
fm <- lgsp ~ lpcap + lpc + lemp + unemp

pack <- function(m) {
  cf <- coef(m)
  list(names = names(cf), estimate = unname(cf), sigma2 = unname(m$sigma2),
       vcov = unname(as.matrix(vcov(m))), vcov_names = colnames(as.matrix(vcov(m))),
       loglik = if (is.null(m$logLik)) NULL else unname(m$logLik))
}
out <- list(versions = list(splm = as.character(packageVersion("splm"))), spml = list(),
            sphtest = list())
for (eff in c("individual", "time", "twoways")) {
  out$spml[[eff]] <- list(
    lag = pack(spml(fm, data = pd, listw = lw, model = "within", effect = eff,
                    lag = TRUE, spatial.error = "none")),
    error = pack(spml(fm, data = pd, listw = lw, model = "within", effect = eff,
                      lag = FALSE, spatial.error = "b")))
}
for (kind in c("lag", "error")) {
  lag <- kind == "lag"
  se <- if (lag) "none" else "b"
  fe <- spml(fm, data = pd, listw = lw, model = "within", lag = lag, spatial.error = se)
  re <- spml(fm, data = pd, listw = lw, model = "random", lag = lag, spatial.error = se)
  h <- sphtest(fe, re)
  out$sphtest[[kind]] <- list(statistic = unname(h$statistic), df = unname(h$parameter),
                              p_value = unname(h$p.value), fe = pack(fe), re = pack(re))
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path("tests", "data", "reference", "spatial_splm.json"))
