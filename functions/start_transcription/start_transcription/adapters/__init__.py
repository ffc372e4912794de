"""One adapter per AWS service: the boto3 calls, retries and error mapping live here."""
