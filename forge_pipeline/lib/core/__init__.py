"""Settings, artifact layout and the small helpers every stage shares."""
