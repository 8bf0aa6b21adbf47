"""`python -m alctl …` runs the CLI."""

from alctl.cli.main import main

if __name__ == "__main__":
    main()
