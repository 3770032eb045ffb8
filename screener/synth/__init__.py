"""Synthetic data: fonts, logos, and product-photo scenes for training and the sample set.

Only the generator scripts, the logo trainer and tests import this package; the screener itself
never does.
"""
