"""hotelbot.devtools: tools for development, the demo, tests and benchmarks; never production.

`fake_graph` is a fake Meta Graph API on loopback (`python -m hotelbot.devtools.fake_graph`).
No production module imports this package (tests/test_architecture.py checks it). Nothing is
imported here, so `python -m hotelbot.devtools.fake_graph` runs its module only once.
"""

__all__: list[str] = []
