"Every notebook of the book is a test: it must run top to bottom without an exception."
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith("_"))


def test_found_notebooks():
    assert len(NOTEBOOKS) >= 5, NOTEBOOKS


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook(nb, request):
    from nbdev.config import get_config
    from nbdev.test import test_nb
    cfg = get_config(ROOT)
    skip = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags)
    ok, seconds = test_nb(nb, skip_flags=skip, force_flags=request.config.nb_flags, basepath=cfg.config_path,
                          cell_timeout=cfg.cell_timeout)
    assert ok, f"{nb.name} failed (its traceback is printed above)"
