"""Training health: gradient checks now; the monitor and its diagnoses hang here too."""
