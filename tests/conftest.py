"""Suite-wide settings: no display, no user configuration touched, JAX kept to the CPU."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Tests never read or write the user's own settings and caches.
_isolated = tempfile.mkdtemp(prefix="mia-test-home-")
os.environ.setdefault("MIA_CONFIG_DIR", os.path.join(_isolated, "config"))
os.environ.setdefault("MIA_CACHE_DIR", os.path.join(_isolated, "cache"))
os.environ.setdefault("MIA_DATA_DIR", os.path.join(_isolated, "data"))
