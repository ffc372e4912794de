"""OutcomesApiFunction: what happened to each customer, recorded through /v1 and the alert's links."""
