"""Altair chart builders: tidy DataFrame in, chart out; usable from a notebook or a page."""
