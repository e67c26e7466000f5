"""A test-only app with a concrete gridded model, for testing re-gridding before merchant
stores exist. Installed by the test settings only."""
