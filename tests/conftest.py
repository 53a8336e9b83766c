"""Shared test setup: raw data from ../shared/data, and a cache that is fresh for every session.

Set RWAE_TEST_CACHE to a folder to reuse built datasets between runs (e.g. ~/.cache/rwae).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def data_environment():
    """Point rwae at the shared raw data and at a session cache, for every test."""
    saved = {k: os.environ.get(k) for k in ("RWAE_DATA_ROOT", "RWAE_CACHE")}
    os.environ.setdefault("RWAE_DATA_ROOT", str(SHARED_DATA))
    own_cache = "RWAE_TEST_CACHE" not in os.environ
    cache = (
        tempfile.mkdtemp(prefix="rwae-test-cache-") if own_cache else os.environ["RWAE_TEST_CACHE"]
    )
    os.environ["RWAE_CACHE"] = cache
    yield Path(cache)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    if own_cache:
        shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="session")
def raw_root() -> Path:
    return Path(os.environ["RWAE_DATA_ROOT"])
