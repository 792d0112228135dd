"""Model selection: panel specification tests (F, LM, Hausman) and nonlinearity (turning points, U-test)."""
