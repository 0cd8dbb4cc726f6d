"""`python -m videohook_cli ...`, the same as the `videohook` console script."""

from videohook_cli.main import main

raise SystemExit(main())
