"""The embedded default: the whole pipeline on one machine, no AWS account."""
