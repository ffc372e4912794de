"""LiveScoreFunction: Contact Lens real-time segments -> a running churn score per contact."""
