"""The installed package's version, read once from its metadata."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("qiskit-divi")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
