"""syncd: keeps learning platforms in step with an HRIS that can only export CSV files."""

__version__ = "0.1.0"
