# Reference fixtures for climetrics.estimate.endogeneity.gmm, produced with R plm::pgmm.
#
# Usage (from the repository root; needs r-base-core, r-cran-plm, r-cran-jsonlite):
#   Rscript tools/reference/gmm_plm.R
#
# Writes
#   tests/data/emplUK.csv                 plm::EmplUK (Arellano & Bond 1991 UK company panel)
#   tests/data/reference/gmm_emplUK.json  pgmm estimates, vcov (plain and vcovHC, i.e. robust
#                                         one-step / Windmeijer-corrected two-step), Sargan
#                                         (plm's name for Hansen's J) with both weightings,
#                                         Arellano-Bond m1/m2 tests and Wald tests as
#                                         summary.pgmm computes them (robust vcov).
# The tests read these files only; they never call R.

suppressPackageStartupMessages({
  library(plm)
  library(jsonlite)
})

out_dir <- file.path("tests", "data", "reference")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

data("EmplUK", package = "plm")
write.csv(EmplUK, file.path("tests", "data", "emplUK.csv"), row.names = FALSE)

f_ab <- log(emp) ~ lag(log(emp), 1:2) + lag(log(wage), 0:1) + log(capital) +
  lag(log(output), 0:1) | lag(log(emp), 2:99)
f_bb <- log(emp) ~ lag(log(emp), 1) + lag(log(wage), 0:1) + lag(log(capital), 0:1) |
  lag(log(emp), 2:99) + lag(log(wage), 2:99) + lag(log(capital), 2:99)
f_a1 <- log(emp) ~ lag(log(emp), 1:2) + lag(log(wage), 0:1) + lag(log(capital), 0:2) +
  lag(log(output), 0:2) | lag(log(emp), 2:99)
f_lim <- log(emp) ~ lag(log(emp), 1:2) + lag(log(wage), 0:1) + log(capital) +
  lag(log(output), 0:1) | lag(log(emp), 2:4)

# ab_* : Arellano & Bond (1991) Table 4 col. (b) specification (as in Windmeijer 2005, Table 2);
# a1_* : Arellano & Bond (1991) Table 4 col. (a1); bb_* : plm's Blundell-Bond example.
specs <- list(
  a1_d_onestep = list(f = f_a1, model = "onestep", transformation = "d", collapse = FALSE, effect = "twoways"),
  ab_d_onestep = list(f = f_ab, model = "onestep", transformation = "d", collapse = FALSE, effect = "twoways"),
  ab_d_twosteps = list(f = f_ab, model = "twosteps", transformation = "d", collapse = FALSE, effect = "twoways"),
  ab_d_twosteps_collapse = list(f = f_ab, model = "twosteps", transformation = "d", collapse = TRUE, effect = "twoways"),
  ab_d_twosteps_individual = list(f = f_ab, model = "twosteps", transformation = "d", collapse = FALSE, effect = "individual"),
  ab_d_onestep_lags24 = list(f = f_lim, model = "onestep", transformation = "d", collapse = FALSE, effect = "twoways"),
  ab_ld_twosteps = list(f = f_ab, model = "twosteps", transformation = "ld", collapse = FALSE, effect = "twoways"),
  bb_ld_onestep = list(f = f_bb, model = "onestep", transformation = "ld", collapse = FALSE, effect = "twoways"),
  bb_ld_twosteps = list(f = f_bb, model = "twosteps", transformation = "ld", collapse = FALSE, effect = "twoways"),
  bb_ld_twosteps_collapse = list(f = f_bb, model = "twosteps", transformation = "ld", collapse = TRUE, effect = "twoways"),
  bb_d_twosteps = list(f = f_bb, model = "twosteps", transformation = "d", collapse = FALSE, effect = "twoways"),
  # interior gaps: rows listed in "dropped_rows" (1-based rows of emplUK.csv) removed
  gaps_ld_twosteps = list(f = f_ab, model = "twosteps", transformation = "ld", collapse = FALSE, effect = "twoways",
                          drop = seq(5L, nrow(EmplUK), by = 37L))
)

mat <- function(m) unname(lapply(seq_len(nrow(m)), function(i) unname(m[i, ])))

out <- list(
  versions = list(plm = as.character(packageVersion("plm")), r = R.version.string),
  specs = list()
)
for (nm in names(specs)) {
  s <- specs[[nm]]
  warn <- character(0)
  dat <- if (is.null(s$drop)) EmplUK else EmplUK[-s$drop, ]
  fit <- withCallingHandlers(
    pgmm(s$f, data = dat, effect = s$effect, model = s$model,
         transformation = s$transformation, collapse = s$collapse),
    warning = function(w) { warn <<- c(warn, conditionMessage(w)); invokeRestart("muffleWarning") })
  sm <- summary(fit, robust = TRUE)
  vr <- vcovHC(fit)
  b <- coef(fit)
  hans <- sargan(fit, weights = "twosteps")
  sarg1 <- sargan(fit, weights = "onestep")
  # vr is passed as a matrix, as summary.pgmm does (plm 2.6-2 mis-handles a vcov *function*
  # in mtest: it then also replaces the non-robust bread by the robust matrix).
  m1 <- mtest(fit, order = 1, vcov = vr)
  m2 <- mtest(fit, order = 2, vcov = vr)
  res <- list(
    formula = paste(deparse(s$f), collapse = " "),
    model = s$model, transformation = s$transformation, collapse = s$collapse,
    effect = s$effect,
    dropped_rows = if (is.null(s$drop)) integer(0) else s$drop,
    warnings = warn,
    names = names(b),
    coefficients = unname(b),
    coefficients_onestep = if (s$model == "twosteps") unname(fit$coefficients[[1]]) else unname(b),
    vcov = mat(vcov(fit)),
    vcov_robust = mat(vr),
    se_robust = unname(sqrt(diag(vr))),
    n_instruments = ncol(fit$W[[1]]),
    n_obs_used = sum(unlist(fit$residuals, use.names = FALSE) != 0),
    hansen = list(statistic = unname(hans$statistic), df = unname(hans$parameter), p_value = unname(hans$p.value)),
    sargan_onestep_weights = list(statistic = unname(sarg1$statistic), df = unname(sarg1$parameter)),
    ar1 = list(statistic = as.numeric(m1$statistic), p_value = as.numeric(m1$p.value)),
    ar2 = list(statistic = as.numeric(m2$statistic), p_value = as.numeric(m2$p.value)),
    wald_coef = list(statistic = unname(sm$wald.coef$statistic), df = unname(sm$wald.coef$parameter)),
    wald_time = if (s$effect == "twoways") list(statistic = unname(sm$wald.td$statistic), df = unname(sm$wald.td$parameter)) else NULL
  )
  out$specs[[nm]] <- res
}
write_json(out, file.path(out_dir, "gmm_emplUK.json"), digits = I(17), auto_unbox = TRUE,
           pretty = TRUE, null = "null")
cat("wrote", file.path(out_dir, "gmm_emplUK.json"), "\n")
