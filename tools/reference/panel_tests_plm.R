# Reference fixtures for climetrics.estimate.selection.panel_tests, produced with R plm.
#
# Usage (from the repository root; needs r-base-core, r-cran-plm, r-cran-jsonlite):
#   Rscript tools/reference/panel_tests_plm.R
#
# Writes
#   tests/data/grunfeld_plm.csv                     plm::Grunfeld (10 US firms, 1935-1954)
#   tests/data/reference/panel_tests_grunfeld.json  pFtest, plmtest (bp / honda), phtest
#       (contrast and regression-based, plain and vcovHC), Swamy-Arora random effects and
#       within estimates for inv ~ value + capital, on the balanced panel and on an unbalanced
#       subset (rows listed in "dropped_rows", 1-based, of grunfeld_plm.csv).
# The tests read these files only; they never call R.

suppressPackageStartupMessages({
  library(plm)
  library(jsonlite)
})

out_dir <- file.path("tests", "data", "reference")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

data("Grunfeld", package = "plm")
write.csv(Grunfeld, file.path("tests", "data", "grunfeld_plm.csv"), row.names = FALSE)

fml <- inv ~ value + capital
mat <- function(m) unname(lapply(seq_len(nrow(m)), function(i) unname(m[i, ])))
ht <- function(h) list(statistic = unname(as.numeric(h$statistic)),
                       df = if (is.null(h$parameter)) NULL else unname(as.numeric(h$parameter)),
                       p_value = unname(as.numeric(h$p.value)))

run <- function(dat) {
  pdat <- pdata.frame(dat, index = c("firm", "year"))
  pool <- plm(fml, data = pdat, model = "pooling")
  wi <- plm(fml, data = pdat, model = "within")
  wi2 <- plm(fml, data = pdat, model = "within", effect = "twoways")
  wit <- plm(fml, data = pdat, model = "within", effect = "time")
  re <- plm(fml, data = pdat, model = "random")
  ec <- ercomp(re)
  list(
    n_obs = nrow(dat),
    balanced = is.pbalanced(pdat),
    pooling = list(coefficients = as.list(coef(pool)), ssr = deviance(pool)),
    within = list(coefficients = as.list(coef(wi)), vcov = mat(vcov(wi)), ssr = deviance(wi),
                  df_residual = df.residual(wi)),
    random = list(coefficients = as.list(coef(re)), vcov = mat(vcov(re)),
                  se = unname(sqrt(diag(vcov(re)))),
                  sigma2_idios = unname(ec$sigma2[["idios"]]), sigma2_id = unname(ec$sigma2[["id"]]),
                  theta = unname(as.numeric(ec$theta)), ssr = deviance(re),
                  df_residual = df.residual(re)),
    pFtest = ht(pFtest(wi, pool)),
    pFtest_twoways = ht(pFtest(wi2, pool)),
    pFtest_time = ht(pFtest(wit, pool)),
    plmtest_bp = ht(plmtest(pool, effect = "individual", type = "bp")),
    plmtest_honda = ht(plmtest(pool, effect = "individual", type = "honda")),
    plmtest_bp_time = ht(plmtest(pool, effect = "time", type = "bp")),
    plmtest_bp_twoways = ht(plmtest(pool, effect = "twoways", type = "bp")),
    plmtest_honda_twoways = ht(plmtest(pool, effect = "twoways", type = "honda")),
    phtest = ht(phtest(wi, re)),
    phtest_aux = ht(phtest(fml, data = pdat, method = "aux")),
    phtest_aux_vcovHC = ht(phtest(fml, data = pdat, method = "aux", vcov = vcovHC))
  )
}

dropped <- c(1:3, 45, 101:105, 150, 199)
out <- list(
  versions = list(plm = as.character(packageVersion("plm")), r = R.version.string),
  formula = deparse(fml),
  dropped_rows = dropped,
  balanced = run(Grunfeld),
  unbalanced = run(Grunfeld[-dropped, ])
)
write_json(out, file.path(out_dir, "panel_tests_grunfeld.json"), digits = I(17),
           auto_unbox = TRUE, pretty = TRUE, null = "null")
cat("wrote", file.path(out_dir, "panel_tests_grunfeld.json"), "\n")
