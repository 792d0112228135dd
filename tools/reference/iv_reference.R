# Reference fixtures for climetrics.estimate.endogeneity.iv, produced with R AER::ivreg + sandwich::vcovCL.
#
# Usage (from the repository root; needs r-base-core, r-cran-aer, r-cran-plm, r-cran-sandwich,
# r-cran-lmtest, r-cran-jsonlite):
#   Rscript tools/reference/iv_reference.R
#
# Writes
#   tests/data/cigarettes_sw.csv          AER::CigarettesSW (Stock & Watson cigarette demand,
#                                         48 US states x 1985/1995) plus the derived columns below
#   tests/data/crime_plm.csv              plm::Crime (Cornwell & Trumbull 1994, 90 North Carolina
#                                         counties x 1981-1987), the columns used here
#   tests/data/reference/iv_cigarettes.json, iv_crime.json
#
# Fixed effects enter as explicit factor dummies in every regression (2SLS, first stages,
# reduced forms), so these are dummy-variable fits independent of any within transformation.
# Covariances:
#   vcov_cl  = sandwich::vcovCL(fit, cluster = <unit>, type = "HC1"), i.e. the CRV1 sandwich times
#              G/(G-1) * (N-1)/(N-K) with K = every coefficient of the dummy-variable model
#              (slopes + intercept + all FE dummies). This is climetrics' ssc = "full".
#   vcov_hc1 = vcovCL(fit, cluster = 1:N, type = "HC1") = HC1, factor N/(N-K) with the same K.
# Wald statistics are F = b' V^-1 b / q for the listed coefficients with V = vcov_cl.
# The tests read these files only; they never call R.

suppressPackageStartupMessages({
  library(AER)
  library(plm)
  library(sandwich)
  library(jsonlite)
})

out_dir <- file.path("tests", "data", "reference")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

versions <- list(
  r = R.version.string,
  AER = as.character(packageVersion("AER")),
  sandwich = as.character(packageVersion("sandwich")),
  plm = as.character(packageVersion("plm")),
  lmtest = as.character(packageVersion("lmtest"))
)

mat <- function(m) unname(lapply(seq_len(nrow(m)), function(i) unname(m[i, ])))

wald_F <- function(b, V, terms) {
  bb <- b[terms]
  VV <- V[terms, terms, drop = FALSE]
  as.numeric(t(bb) %*% solve(VV, bb)) / length(terms)
}

# Homoskedastic F of `terms` by comparing nested lm fits (anova), the classical first-stage F.
iid_F <- function(full, restricted) {
  a <- anova(restricted, full)
  as.numeric(a$F[2])
}

# Cragg-Donald (1993) minimum-eigenvalue statistic in the Stock-Yogo (2005) form, computed by
# partialling the exogenous regressors (controls + FE dummies) out with lm residuals.
cragg_donald <- function(d, endog, instr, exog_rhs) {
  part <- function(v) {
    f <- if (nchar(exog_rhs)) as.formula(paste(v, "~", exog_rhs)) else as.formula(paste(v, "~ 1"))
    resid(lm(f, data = d))
  }
  X <- sapply(endog, part)
  Z <- sapply(instr, part)
  X <- matrix(X, nrow = nrow(d))
  Z <- matrix(Z, nrow = nrow(d))
  PZX <- Z %*% solve(crossprod(Z), crossprod(Z, X))
  n_exog <- qr(model.matrix(as.formula(paste("~", exog_rhs)), d))$rank
  dfr <- nrow(d) - n_exog - length(instr)
  S <- crossprod(X - PZX) / dfr
  R <- chol(S)
  Ri <- solve(R)
  G <- t(Ri) %*% crossprod(X, PZX) %*% Ri
  min(eigen((G + t(G)) / 2, symmetric = TRUE)$values) / length(instr)
}

run_spec <- function(d, y, endog, instr, controls, fe, cluster, ar_beta0) {
  exog <- c(controls, fe)
  exog_rhs <- paste(exog, collapse = " + ")
  f_iv <- as.formula(paste(
    y, "~", paste(c(endog, exog), collapse = " + "), "|",
    paste(c(instr, exog), collapse = " + ")
  ))
  fit <- ivreg(f_iv, data = d)
  n <- nobs(fit)
  cl <- d[[cluster]]
  V_cl <- vcovCL(fit, cluster = cl, type = "HC1")
  V_hc1 <- vcovCL(fit, cluster = seq_len(n), type = "HC1")
  keep <- c(endog, controls)
  out <- list(
    y = y, endog = endog, instruments = instr, controls = controls, fe = fe, cluster = cluster,
    n = n, n_clusters = length(unique(cl)), k_dummy_model = length(coef(fit)),
    terms = keep,
    coef = unname(coef(fit)[keep]),
    vcov_cl = mat(V_cl[keep, keep, drop = FALSE]),
    vcov_hc1 = mat(V_hc1[keep, keep, drop = FALSE]),
    first_stage = list(), reduced_form = list()
  )
  for (x in endog) {
    f_fs <- as.formula(paste(x, "~", paste(c(instr, exog), collapse = " + ")))
    f_r <- as.formula(paste(x, "~", exog_rhs))
    fs <- lm(f_fs, data = d)
    fr <- lm(f_r, data = d)
    Vf <- vcovCL(fs, cluster = cl, type = "HC1")
    fterms <- c(instr, controls)
    out$first_stage[[x]] <- list(
      terms = fterms,
      coef = unname(coef(fs)[fterms]),
      vcov_cl = mat(Vf[fterms, fterms, drop = FALSE]),
      F_cluster = wald_F(coef(fs), Vf, instr),
      F_iid = iid_F(fs, fr),
      k_dummy_model = length(coef(fs))
    )
  }
  out$cragg_donald_F <- cragg_donald(d, endog, instr, exog_rhs)
  # Anderson-Rubin: regress y - X beta0 on instruments + exogenous, Wald-test the instruments.
  for (nm in names(ar_beta0)) {
    b0 <- ar_beta0[[nm]]
    ytil <- d[[y]] - as.matrix(d[endog]) %*% b0
    d2 <- d
    d2$ytil__ <- as.numeric(ytil)
    rf <- lm(as.formula(paste("ytil__ ~", paste(c(instr, exog), collapse = " + "))), data = d2)
    Vr <- vcovCL(rf, cluster = cl, type = "HC1")
    out$reduced_form[[nm]] <- list(beta0 = b0, F_cluster = wald_F(coef(rf), Vr, instr))
  }
  out
}

# ---------------------------------------------------------------------------- cigarettes
data("CigarettesSW", package = "AER")
cig <- CigarettesSW
cig$state <- as.character(cig$state)
cig$year <- as.integer(as.character(cig$year))
cig$rprice <- cig$price / cig$cpi
cig$rincome <- cig$income / cig$population / cig$cpi
cig$tdiff <- (cig$taxs - cig$tax) / cig$cpi
cig$rtax <- cig$tax / cig$cpi
cig$lpacks <- log(cig$packs)
cig$lrprice <- log(cig$rprice)
cig$lrincome <- log(cig$rincome)
write.csv(cig, file.path("tests", "data", "cigarettes_sw.csv"), row.names = FALSE)
cig$state_f <- factor(cig$state)
cig$year_f <- factor(cig$year)

cig_specs <- list(
  just = run_spec(cig, "lpacks", "lrprice", "tdiff", "lrincome", c("state_f", "year_f"), "state",
                  list(zero = 0, other = -1)),
  over = run_spec(cig, "lpacks", "lrprice", c("tdiff", "rtax"), "lrincome", c("state_f", "year_f"),
                  "state", list(zero = 0, other = -1)),
  pooled = run_spec(cig, "lpacks", "lrprice", c("tdiff", "rtax"), "lrincome", character(0), "state",
                    list(zero = 0, other = -1))
)
# pooled spec: ivreg has an intercept; report it too
fit_p <- ivreg(lpacks ~ lrprice + lrincome | tdiff + rtax + lrincome, data = cig)
Vp <- vcovCL(fit_p, cluster = cig$state, type = "HC1")
cig_specs$pooled$coef_with_const <- unname(coef(fit_p))
cig_specs$pooled$terms_with_const <- c("_cons", "lrprice", "lrincome")
cig_specs$pooled$vcov_cl_with_const <- mat(Vp)

write_json(list(versions = versions, data = "AER::CigarettesSW", specs = cig_specs),
           file.path(out_dir, "iv_cigarettes.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)

# ---------------------------------------------------------------------------- crime
data("Crime", package = "plm")
cr <- Crime[, c("county", "year", "lcrmrte", "lprbarr", "lprbconv", "lprbpris", "lavgsen",
                "lpolpc", "ldensity", "ltaxpc", "lmix")]
cr$year <- as.integer(cr$year) + 1900L
write.csv(cr, file.path("tests", "data", "crime_plm.csv"), row.names = FALSE)
cr$county_f <- factor(cr$county)
cr$year_f <- factor(cr$year)
ctrl <- c("lprbconv", "lprbpris", "lavgsen", "ldensity")

crime_specs <- list(
  two_endog = run_spec(cr, "lcrmrte", c("lprbarr", "lpolpc"), c("ltaxpc", "lmix"), ctrl,
                       c("county_f", "year_f"), "county", list(zero = c(0, 0), other = c(-0.5, 0.4))),
  one_endog = run_spec(cr, "lcrmrte", "lpolpc", c("ltaxpc", "lmix"), ctrl,
                       c("county_f", "year_f"), "county", list(zero = 0, other = 0.4))
)
write_json(list(versions = versions, data = "plm::Crime", specs = crime_specs),
           file.path(out_dir, "iv_crime.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote iv_cigarettes.json and iv_crime.json\n")
