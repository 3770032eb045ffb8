"""Training: the logo network (data, augmentation, torch network, training, ONNX export) and the
synthetic generators (:mod:`screener.train.synth`) that make its identities and the sample listings.

Screening never needs this package's torch parts: those modules import torch, torchvision and onnx
inside functions, and they come with the ``train`` extra (``pip install 'screener[train]'``). Two
torch-free parts are also used at screening time: the logo stage draws its background bank
(``bank-v1``) with :mod:`screener.train.render` and :mod:`screener.train.augment`, so that the
shipped reference floors stay what they were measured to be.

``python -m screener.train`` (or ``screener train-logo``) trains the network.
"""
