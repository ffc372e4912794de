"""One adapter per AWS service the live function talks to."""
