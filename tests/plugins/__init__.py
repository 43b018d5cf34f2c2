"""Third-party-style plugins kept in the test tree (a soma-workflow scheduler plugin)."""
