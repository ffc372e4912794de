"""Operations on AWS: SageMaker training jobs, DLQ redrive, teardown."""
