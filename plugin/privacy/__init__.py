"""Privacy: a person's data export, erasure by an admin, and a retention period for experiment text."""
