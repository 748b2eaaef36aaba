"""Great Expectations: the suite in gx/, run over a data frame, inferred from one, and its results stored."""
