"""The package version, read by setuptools (pyproject `dynamic`) and written into saved configs."""

__version__ = "0.4.0"
