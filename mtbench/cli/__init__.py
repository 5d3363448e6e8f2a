"""Command-line entry points: each parses its flags and calls one library function."""
