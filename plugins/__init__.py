"""Built-in mia plugins; each module registers through the ``mia`` entry-point group."""
