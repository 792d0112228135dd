# Reference fixtures for climetrics.estimate.spatial (panel SAR / SEM / SDM with fixed effects).
#
# Usage (from the repository root; needs r-cran-plm, r-cran-spdep, r-cran-spatialreg,
# r-cran-spdata, r-cran-sf, r-cran-jsonlite):
#   Rscript tools/reference/spatial_panel.R
#
# Data: plm::Produc (Munnell 1990; 48 US states x 1970-1986) and queen contiguity of the 48
# contiguous states built with spdep::poly2nb from spData::us_states (District of Columbia dropped),
# row-standardised. Model (the classic splm example):
#   log(gsp) ~ log(pcap) + log(pc) + log(emp) + unemp
#
# Writes
#   tests/data/produc_plm.csv                 state, year, gsp, pcap, pc, emp, unemp + logs
#   tests/data/us_states_contiguity.csv       neighbour pairs (state, neighbor), plm's state names
#   tests/data/reference/spatial_produc.json  the fixtures below
#
# Fixtures
#   direct.<effects>.<model>  Direct-approach ML (Elhorst 2014, ch. 3) of SAR / SDM / SEM with unit
#       ("individual"), time or two-way fixed effects, estimated by spatialreg::lagsarlm /
#       errorsarlm on the stacked panel (sorted by year, then state) with a block-diagonal
#       listw for I_T (x) W and the fixed effects as dummy variables (Durbin = ~ x for the SDM so
#       the dummies get no spatial lag). Dummies, not within-transformed data, because with time
#       effects the spatial lag of time-demeaned y, W(y - ybar_t), is not the time-demeaned W y
#       unless W is doubly stochastic; with dummies the fit is the exact ML of the FE model.
#       Stores coefficients, rho / lambda, sigma2, log-likelihood and the asymptotic
#       (information-matrix) covariance of (rho|lambda, x, W*x).
#   impacts.<effects>.sdm / .sar  spatialreg::impacts with the eigenvalues of I_T (x) W: exact average
#       direct / indirect / total effects and simulation SEs (R = 5000 draws).
#   lm.<effects>  spdep::lm.LMtests (LMlag, LMerr, RLMlag, RLMerr) on the OLS fit of the
#       within-transformed data (no intercept) with listw I_T (x) W: the panel LM tests of
#       Anselin et al. (1996) as extended to panels by Elhorst (2010, 2014).
#   leeyu.<effects>.<model>  Lee & Yu (2010) transformation approach: the data are transformed
#       by F_T' (orthonormal eigenvectors of the demeaning matrix J_T with eigenvalue 1) when
#       unit effects are present and by F_N' when time effects are present, W becomes
#       W* = F_N' W F_N (N-1 rows), and the transformed model is estimated by ML: with unit
#       effects only (W* = W) by lagsarlm / errorsarlm (no intercept, listw I (x) W); with time
#       effects (W* has negative weights, which listw refuses) by maximising the transformed
#       model's concentrated likelihood here with optimize() and numeric eigenvalues of W*.
#       An independent route to the bias-corrected estimator: the package works with demeaned
#       data and log|I - rho W| - log(1 - rho) instead.
# The tests read these files only; they never call R.

suppressPackageStartupMessages({
  library(plm)
  library(spData)
  library(sf)
  library(spdep)
  library(spatialreg)
  library(jsonlite)
})

out_dir <- file.path("tests", "data", "reference")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
TOL_OPT <- 1e-13

# ---------------------------------------------------------------- data and weights
data("Produc", package = "plm")
data("us_states", package = "spData")
pr <- Produc[, c("state", "year", "gsp", "pcap", "pc", "emp", "unemp")]
pr$state <- as.character(pr$state)
pr$lgsp <- log(pr$gsp); pr$lpcap <- log(pr$pcap); pr$lpc <- log(pr$pc); pr$lemp <- log(pr$emp)
write.csv(pr, file.path("tests", "data", "produc_plm.csv"), row.names = FALSE)

us <- us_states[us_states$NAME != "District of Columbia", ]
plm_name <- toupper(gsub(" ", "_", us$NAME))
plm_name[plm_name == "TENNESSEE"] <- "TENNESSE"  # plm::Produc spells it so
stopifnot(setequal(plm_name, unique(pr$state)))
nb <- poly2nb(us, queen = TRUE, row.names = plm_name)
pairs <- do.call(rbind, lapply(seq_along(nb), function(i)
  data.frame(state = plm_name[i], neighbor = plm_name[nb[[i]]])))
write.csv(pairs, file.path("tests", "data", "us_states_contiguity.csv"), row.names = FALSE)

states <- sort(unique(pr$state))
years <- sort(unique(pr$year))
N <- length(states); TT <- length(years)
Wb <- matrix(0, N, N, dimnames = list(states, states))
Wb[cbind(match(pairs$state, states), match(pairs$neighbor, states))] <- 1
W <- Wb / rowSums(Wb)
lwN <- mat2listw(W, style = "W")
lwNT <- mat2listw(kronecker(diag(TT), W), style = "W")
evNT <- rep(Re(eigen(W, only.values = TRUE)$values), TT)  # eigenvalues of I_T (x) W, all real

pr <- pr[order(pr$year, match(pr$state, states)), ]  # year-major: obs (t, i) = (t - 1) N + i
pr$fstate <- factor(pr$state); pr$fyear <- factor(pr$year)
xs <- c("lpcap", "lpc", "lemp", "unemp")
fe_terms <- list(individual = "fstate", time = "fyear", twoways = c("fstate", "fyear"))
rhs <- function(fe) paste(c(xs, fe_terms[[fe]]), collapse = " + ")
durbin <- as.formula(paste("~", paste(xs, collapse = " + ")))

keep_names <- function(param, lagged) c(param, xs, if (lagged) paste0("lag.", xs))
block <- function(V, nm) unname(lapply(nm, function(r) unname(V[r, nm])))

summarise <- function(fit, param, lagged) {
  nm <- keep_names(param, lagged)
  est <- c(if (param == "rho") fit$rho else fit$lambda, coef(fit))
  names(est)[1] <- param
  list(names = nm, estimate = unname(est[nm]), sigma2 = fit$s2, loglik = as.numeric(fit$LL),
       vcov = block(fit$resvar, nm), interval = fit$interval)
}

fit_direct <- function(fe, model) {
  f <- as.formula(paste("lgsp ~", rhs(fe)))
  ctl <- list(tol.opt = TOL_OPT)
  switch(model,
    sar = lagsarlm(f, pr, lwNT, method = "eigen", control = ctl),
    sdm = lagsarlm(f, pr, lwNT, Durbin = durbin, method = "eigen", control = ctl),
    sem = errorsarlm(f, pr, lwNT, method = "eigen", control = ctl))
}

imp <- function(fit, lagged) {
  set.seed(20240601)
  im <- impacts(fit, evalues = evNT, R = 5000)
  s <- summary(im, zstats = TRUE, short = TRUE)
  pick <- function(v) unname(v[xs])
  list(terms = xs,
       direct = pick(setNames(im$res$direct, attr(im, "bnames"))),
       indirect = pick(setNames(im$res$indirect, attr(im, "bnames"))),
       total = pick(setNames(im$res$total, attr(im, "bnames"))),
       se_direct = unname(s$semat[xs, "Direct"]), se_indirect = unname(s$semat[xs, "Indirect"]),
       se_total = unname(s$semat[xs, "Total"]), draws = 5000)
}

# ---------------------------------------------------------------- within transformation
within <- function(v, fe) {
  m <- matrix(v, N, TT)  # column t holds period t
  if (fe %in% c("individual", "twoways")) m <- m - rowMeans(m)
  if (fe %in% c("time", "twoways")) m <- sweep(m, 2, colMeans(m))
  as.vector(m)
}
lm_tests <- function(fe) {
  d <- as.data.frame(lapply(pr[, c("lgsp", xs)], within, fe = fe))
  ols <- lm(as.formula(paste("lgsp ~", paste(xs, collapse = " + "), "- 1")), d)
  t <- lm.LMtests(ols, lwNT, test = c("LMlag", "LMerr", "RLMlag", "RLMerr"))
  lapply(t, function(h) list(statistic = unname(h$statistic), p_value = unname(h$p.value)))
}

# ---------------------------------------------------------------- Lee & Yu transformation
orth <- function(n) {  # n x (n-1) orthonormal eigenvectors of J_n = I - 11'/n, eigenvalue 1
  e <- eigen(diag(n) - matrix(1 / n, n, n), symmetric = TRUE)
  e$vectors[, 1:(n - 1)]
}
transform_ly <- function(fe) {
  FN <- if (fe %in% c("time", "twoways")) orth(N) else diag(N)
  FT <- if (fe %in% c("individual", "twoways")) orth(TT) else diag(TT)
  tr <- function(v) t(FN) %*% matrix(v, N, TT) %*% FT  # (N*) x (T*) matrix
  list(FN = FN, Ts = ncol(FT), Ws = t(FN) %*% W %*% FN,
       y = tr(pr$lgsp), X = lapply(pr[, xs], tr))
}
fit_leeyu <- function(fe, model) {
  z <- transform_ly(fe)
  if (fe == "individual") {  # W* = W: spatialreg on the transformed data
    d <- as.data.frame(c(list(lgsp = as.vector(z$y)), lapply(z$X, as.vector)))
    lw <- mat2listw(kronecker(diag(z$Ts), W), style = "W")
    f <- as.formula(paste("lgsp ~", paste(xs, collapse = " + "), "- 1"))
    ctl <- list(tol.opt = TOL_OPT)
    fit <- switch(model,
      sar = lagsarlm(f, d, lw, method = "eigen", control = ctl),
      sdm = lagsarlm(f, d, lw, Durbin = TRUE, method = "eigen", control = ctl),
      sem = errorsarlm(f, d, lw, method = "eigen", control = ctl))
    out <- summarise(fit, if (model == "sem") "lambda" else "rho", model == "sdm")
    return(out)
  }
  # W* = F_N' W F_N has negative weights, which listw objects refuse: maximise the transformed
  # model's likelihood directly (numeric eigenvalues of W*, one-dimensional optimize()).
  ev <- Re(eigen(z$Ws, only.values = TRUE)$values)
  nts <- length(z$y)
  lagm <- function(m) z$Ws %*% m
  X <- sapply(z$X, as.vector)
  if (model == "sdm") X <- cbind(X, sapply(z$X, function(m) as.vector(lagm(m))))
  y <- as.vector(z$y); wy <- as.vector(lagm(z$y))
  filt <- function(v, a) as.vector(matrix(v, nrow(z$Ws)) - a * lagm(matrix(v, nrow(z$Ws))))
  resid <- function(a) {
    if (model == "sem") {
      ys <- filt(y, a); Xs <- apply(X, 2, filt, a = a)
    } else {
      ys <- y - a * wy; Xs <- X
    }
    b <- qr.coef(qr(Xs), ys)
    list(b = b, e = ys - Xs %*% b)
  }
  conc <- function(a) {
    e <- resid(a)$e
    -nts / 2 * log(sum(e^2) / nts) + z$Ts * sum(log(1 - a * ev))
  }
  lo <- 1 / min(Re(eigen(W, only.values = TRUE)$values))
  a <- optimize(conc, c(lo + 1e-10, 1 - 1e-10), maximum = TRUE, tol = TOL_OPT)$maximum
  r <- resid(a)
  s2 <- sum(r$e^2) / nts
  param <- if (model == "sem") "lambda" else "rho"
  list(names = keep_names(param, model == "sdm"), estimate = unname(c(a, r$b)), sigma2 = s2,
       loglik = -nts / 2 * (log(2 * pi * s2) + 1) + z$Ts * sum(log(1 - a * ev)))
}

# ---------------------------------------------------------------- run
out <- list(
  versions = list(spatialreg = as.character(packageVersion("spatialreg")),
                  spdep = as.character(packageVersion("spdep")),
                  plm = as.character(packageVersion("plm")),
                  spData = as.character(packageVersion("spData"))),
  N = N, T = TT, states = states,
  direct = list(), impacts = list(), lm = list(), leeyu = list())
for (fe in names(fe_terms)) {
  out$direct[[fe]] <- list()
  out$impacts[[fe]] <- list()
  out$leeyu[[fe]] <- list()
  for (model in c("sar", "sdm", "sem")) {
    fit <- fit_direct(fe, model)
    out$direct[[fe]][[model]] <- summarise(fit, if (model == "sem") "lambda" else "rho",
                                           model == "sdm")
    if (model != "sem") out$impacts[[fe]][[model]] <- imp(fit, model == "sdm")
    out$leeyu[[fe]][[model]] <- fit_leeyu(fe, model)
  }
  out$lm[[fe]] <- lm_tests(fe)
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "spatial_produc.json"))
