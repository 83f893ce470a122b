"""History of readings: roll-ups of raw readings into buckets, retention, and series queries."""
