"""The package version (read by pyproject.toml and by the files chainrule writes)."""

__version__ = "0.1.0"
