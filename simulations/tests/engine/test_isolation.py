"""The engine imports without Django, so it runs in a notebook or a worker with no database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_engine_import_does_not_load_django() -> None:
    """Importing the engine, its CLI and every submodule leaves django out of sys.modules."""
    code = (
        "import sys, pkgutil, importlib, simulations.engine as e\n"
        "for m in pkgutil.walk_packages(e.__path__, 'simulations.engine.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = sorted(k for k in sys.modules if k == 'django' or k.startswith('django.'))\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
