"""Training plan, hardware, healing failed attempts, where the trainer runs."""
