"""ScoreApiFunction: the churn scoring API behind API Gateway (REST, /v1)."""
