"""What one story's quick run must show beyond the common checks (test_notebooks)."""
