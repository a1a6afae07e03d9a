"""Allow ``python -m postwarden`` where the console script is not on PATH."""

from postwarden.cli import main

raise SystemExit(main())
