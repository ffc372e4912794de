"""DriftMonitorFunction: the last day's calls against the serving model's training baseline."""
