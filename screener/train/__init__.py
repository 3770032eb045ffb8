"""Training: the logo network (data, augmentation, torch network, training, ONNX export) and the
synthetic generators (:mod:`screener.train.synth`) that make its identities and the sample listings.

Screening never needs this package: its torch parts import torch, torchvision and onnx inside
functions, and they come with the ``train`` extra (``pip install 'screener[train]'``). What
screening uses from training ships as files made here: the logo stage's background bank, drawn
with :mod:`screener.train.render` and :mod:`screener.train.augment`, ships as each network's
embeddings (``python -m screener.train.bank``, :mod:`screener.logo.bank`).

``python -m screener.train`` (or ``screener train-logo``) trains the network.
"""
