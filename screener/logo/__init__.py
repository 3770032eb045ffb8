"""The CNN logo-matching stage (see :mod:`screener.logo.base`)."""
