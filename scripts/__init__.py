"""Project scripts (make lock, make diagram); a package so mypy and the tests name them scripts.*."""
