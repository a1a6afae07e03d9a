"""The README's main job (scripts/demo.py, which scripts/demo.sh runs after set-up) works."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.postfix

DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"


def _sections(output: str) -> dict[str, str]:
    parts = re.split(r"^== (\S+)$", output, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_demo_sends_every_sample_and_reports_what_happened(postfix_available: None) -> None:
    proc = subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sections = _sections(proc.stdout)
    assert set(sections) == {path.name for path in (DEMO.parents[1] / "tests" / "samples").glob("*.eml")}
    assert "SMTP client saw: 550 5.7.1 GTUBE" in sections["gtube.eml"]
    assert "outcome:         refused" in sections["gtube.eml"]
    assert "SMTP client saw: 250 " in sections["ham.eml"]
    assert "header:          X-Postwarden-Status: " in sections["ham.eml"]
    assert "held in Postfix's hold queue" in sections["gtube-quarantine.eml"]
    assert "X-Postwarden-Quarantine: postwarden: GTUBE_QUARANTINE" in sections["gtube-quarantine.eml"]
    assert "SMTP client saw: 451 4.7.1" in sections["gtube-tempfail.eml"]
    assert "discarded: accepted by SMTP, never delivered" in sections["gtube-discard.eml"]
    assert "MALFORMED" in sections["malformed.eml"]
    for name, text in sections.items():
        assert "postwarden log:  " in text, name  # every message got a decision
    assert "Traceback" not in proc.stderr
    assert proc.stdout.rstrip().endswith("Stopping postwarden and Postfix")
