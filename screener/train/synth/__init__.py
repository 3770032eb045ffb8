"""Synthetic data: logos and product-photo scenes for training and the sample set (fonts come
from :mod:`screener.fonts`).

Only the generator scripts, the logo trainer and tests import this package; the screener itself
never does.
"""
