"""Time-boxed challenges for a course or a team, and sandbox missions with reviewed evidence."""
