"""The operator's config/ (what `scripts/run` serves) against the tests' own copy.

Every other test uses tests/data/config (tests/paths.py), so a hotel added to config/hotels/
changes no test. These two keep the shipped files covered: config/ must be valid as a whole,
and the flow templates and strings.yaml the dialogue tests exercise must be the shipped ones.
"""

from __future__ import annotations

from pathlib import Path

from hotelbot.config import check_config
from tests.paths import CONFIG, SHIPPED_CONFIG


def _shared_files(root: Path) -> dict[str, bytes]:
    files = [root / "strings.yaml", *sorted((root / "flows").glob("*.y*ml"))]
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def test_shipped_config_has_no_problem() -> None:
    assert check_config(SHIPPED_CONFIG) == []


def test_tests_use_the_shipped_flow_templates_and_strings() -> None:
    shipped, tested = _shared_files(SHIPPED_CONFIG), _shared_files(CONFIG)
    assert sorted(tested) == sorted(shipped), "copy config/flows and config/strings.yaml " \
        "to tests/data/config/"
    changed = [name for name in shipped if shipped[name] != tested[name]]
    assert changed == [], f"tests/data/config/ differs from config/ in {changed}: copy them"
