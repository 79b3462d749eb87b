"""`python -m screener`: the same command as the `screener` console script."""

from screener.cli import main

if __name__ == "__main__":
    main()
