"""`alctl serve`: the Starlette app, its session state and the trainer thread."""
