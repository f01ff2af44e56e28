"""Contracts shared by producers and workers. Imports nothing else from the project."""

SCHEMA_VERSION = 1
