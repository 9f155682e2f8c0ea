"""The labelling app (PyQt5 + pyqtgraph): the only package of mia that imports Qt.

``window.MainWindow`` puts together small widgets, one per module (image list, canvas, class
panel, frame slider, levels, tool bars, status bar); tools come from the plugin registry and are
driven through ``tool_controller``; slow work runs in ``workers``.
"""
