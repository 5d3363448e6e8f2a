"""The package version, in a module of its own so that `mtbench.data` can name it in a
download's User-Agent and in answer rows without importing the package's top level."""

__version__ = "0.1.0"
