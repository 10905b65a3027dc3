"""`python -m syncd` runs the same typer app as the `syncd` console script."""

from syncd.cli import main

if __name__ == "__main__":
    main()
