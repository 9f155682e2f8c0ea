"""Suite-wide settings: no display, no user configuration touched, JAX kept to the CPU, compiled
programs reused within a test process."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Tests never read or write the user's own settings and caches.
_isolated = tempfile.mkdtemp(prefix="mia-test-home-")
os.environ.setdefault("MIA_CONFIG_DIR", os.path.join(_isolated, "config"))
os.environ.setdefault("MIA_CACHE_DIR", os.path.join(_isolated, "cache"))
os.environ.setdefault("MIA_DATA_DIR", os.path.join(_isolated, "data"))


def pytest_configure(config):
    """Keep compiled XLA programs for this test process, so that trainings of the same network and
    shapes (a run and its resume, the many small test runs) compile once instead of each time.

    Set through jax.config, not the environment: processes the tests start (``mia train`` sent
    Ctrl+C while it compiles, the multi-process runs) must still compile for themselves.
    """
    import jax

    jax.config.update("jax_compilation_cache_dir", os.path.join(_isolated, "xla-cache"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def pytest_collection_modifyitems(config, items):
    """Skip ``reference`` tests, with the reason, where the reference extra is not installed."""
    import importlib.util

    import pytest

    missing = [m for m in ("torch", "timm", "segmentation_models_pytorch") if importlib.util.find_spec(m) is None]
    if not missing:
        return
    skip = pytest.mark.skip(
        reason=f"needs the reference extra ({', '.join(missing)} missing): pip install -e \".[reference]\""
    )
    for item in items:
        if "reference" in item.keywords:
            item.add_marker(skip)
