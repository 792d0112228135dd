"""What every estimator shares: the result protocol, covariance rules, the within transformation
(demeaning), batched fixed-effects regressions for replicate work, and the replicate engine."""
