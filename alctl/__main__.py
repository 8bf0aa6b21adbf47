"""`python -m alctl …` runs the CLI."""

from alctl.cli import main

if __name__ == "__main__":
    main()
