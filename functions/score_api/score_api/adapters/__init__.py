"""One adapter per AWS service: DynamoDB (profiles, calls) and SageMaker Runtime (the endpoint)."""
