"""Modular pipelines of the project."""
