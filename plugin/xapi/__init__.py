"""xAPI: statements about what happens in Tinker, sent to an organisation's Learning Record Store."""
