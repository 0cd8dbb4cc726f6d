"""`python -m videohook.cli ...`, the same as the `videohook` console script."""

from videohook.cli.main import main

raise SystemExit(main())
