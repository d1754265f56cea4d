"""``python -m interpretable_kd``: the ``interpretable-kd`` command line."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
