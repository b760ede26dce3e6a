"""Recommendations's own rows in each school's schema."""
