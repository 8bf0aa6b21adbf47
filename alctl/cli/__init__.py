"""The `alctl` command line: a thin Typer layer over the HTTP API and the library."""
