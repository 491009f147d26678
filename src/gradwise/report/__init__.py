"""Run reports: ``report.html`` (one self-contained page) and its PNGs (``write.py``); TensorBoard event files."""
