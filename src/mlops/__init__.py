"""A template for machine-learning projects with CI/CD: a DVC pipeline, tracking, serving, monitoring."""
