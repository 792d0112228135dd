# Reference fixtures for climetrics.estimate.robustness.psm, produced with R MatchIt.
#
# Usage (from the repository root; needs r-base-core, r-cran-matchit, r-cran-jsonlite):
#   Rscript tools/reference/psm_matchit.R
#
# Writes
#   tests/data/lalonde.csv                      MatchIt::lalonde, row names as column `id`
#   tests/data/reference/psm_lalonde_ps.json    logit propensity scores from glm()
#   tests/data/reference/psm_lalonde_match.json matched sets, weights and summary() means
#                                               for several method = "nearest" designs
# The tests read these files only; they never call R.

suppressPackageStartupMessages({
  library(MatchIt)
  library(jsonlite)
})

out_dir <- file.path("tests", "data", "reference")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

data("lalonde", package = "MatchIt")
ld <- lalonde
ld_out <- data.frame(id = rownames(ld), ld, stringsAsFactors = FALSE)
ld_out$race <- as.character(ld_out$race)
write.csv(ld_out, file.path("tests", "data", "lalonde.csv"), row.names = FALSE)

fml <- treat ~ age + educ + race + married + nodegree + re74 + re75
versions <- list(
  matchit = as.character(packageVersion("MatchIt")),
  r = R.version.string
)

# ---------------------------------------------------------------- propensity scores
# Tight convergence: glm's default (epsilon = 1e-8 on the deviance) leaves errors of ~1e-8 in
# the linear predictor, larger than the tolerance of the tests.
fit <- glm(fml, data = ld, family = binomial(link = "logit"),
           control = glm.control(epsilon = 1e-15, maxit = 100))
ps_out <- list(
  versions = versions,
  formula = deparse(fml),
  id = rownames(ld),
  ps = unname(fitted(fit)),
  linear = unname(predict(fit, type = "link")),
  coefficients = as.list(coef(fit)),
  mcfadden_r2 = 1 - fit$deviance / fit$null.deviance
)
write_json(ps_out, file.path(out_dir, "psm_lalonde_ps.json"),
           digits = I(17), auto_unbox = TRUE, pretty = TRUE)

# ---------------------------------------------------------------- nearest-neighbour designs
# The score is passed to matchit() as an n1 x n0 distance matrix |p_i - p_j|. MatchIt 4.5.1 as
# built on Linux/GCC mis-computes the distance when `distance` is a vector (nn_matchC_vec takes
# an integer abs() of the score difference, so it always picks the next-lower control and the
# caliper never binds: every treated unit within one unit of score). The matrix path
# (nn_matchC) uses Rcpp::abs() and which.min(): among equally distant controls the first in data
# order wins. With a matrix distance MatchIt matches treated units in data order, so treated
# rows are put in the desired order (largest / smallest score first, ties in data order) and
# controls keep their data order. Calipers are converted to score units here (std.caliper = FALSE).
#
# Not included: ratio > 1 with replace = TRUE through the vector path, where MatchIt 4.5.1 also
# matches one control several times to the same treated unit (e.g. NSW1 -> PSID69 three times).
score_ps <- unname(fitted(fit))
score_lin <- unname(predict(fit, type = "link"))

one_design <- function(score, ratio = 1, replace = FALSE, order = "largest", caliper_sd = NULL) {
  ti <- which(ld$treat == 1)
  ci <- which(ld$treat == 0)
  ti <- switch(order,
               largest = ti[order(-score[ti], method = "radix")],
               smallest = ti[order(score[ti], method = "radix")])
  dat <- ld[c(ti, ci), ]
  dmat <- abs(outer(score[ti], score[ci], "-"))
  dimnames(dmat) <- list(rownames(ld)[ti], rownames(ld)[ci])
  caliper <- if (is.null(caliper_sd)) NULL else caliper_sd * sd(score)
  m <- matchit(fml, data = dat, method = "nearest", distance = dmat, ratio = ratio,
               replace = replace, caliper = caliper, std.caliper = FALSE)
  mm <- m$match.matrix
  sets <- lapply(seq_len(nrow(mm)), function(i) {
    ctrl <- mm[i, ]
    unname(ctrl[!is.na(ctrl)])
  })
  names(sets) <- rownames(mm)
  sm <- summary(m)$sum.matched
  list(
    options = list(k = ratio, replace = replace, order = order,
                   caliper_sd = caliper_sd, caliper_score_units = caliper),
    match_sets = sets,
    weights = as.list(m$weights),
    means_treated = as.list(sm[, "Means Treated"]),
    means_control = as.list(sm[, "Means Control"]),
    n_matched_treated = sum(m$weights[m$treat == 1] > 0),
    n_matched_control = sum(m$weights[m$treat == 0] > 0)
  )
}

designs <- list(
  nn1 = one_design(score_ps),
  nn1_replace = one_design(score_ps, replace = TRUE),
  nn1_caliper = one_design(score_ps, caliper_sd = 0.1),
  nn1_smallest = one_design(score_ps, order = "smallest"),
  nn2 = one_design(score_ps, ratio = 2),
  nn3_replace = one_design(score_ps, ratio = 3, replace = TRUE),
  nn1_logit_caliper = one_design(score_lin, caliper_sd = 0.2)
)
designs$nn1_logit_caliper$options$score <- "linear"

match_out <- list(versions = versions, formula = deparse(fml), score_ps = score_ps,
                  score_linear = score_lin, designs = designs)
write_json(match_out, file.path(out_dir, "psm_lalonde_match.json"),
           digits = I(17), auto_unbox = TRUE, pretty = TRUE, null = "null")
cat("wrote lalonde.csv and", length(designs), "MatchIt designs with MatchIt",
    versions$matchit, "\n")
