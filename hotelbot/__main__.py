"""`python -m hotelbot`: the same as the `hotelbot` command."""

from hotelbot.cli import main

raise SystemExit(main())
