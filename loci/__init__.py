"""The product: the pipeline from scene file to binaural music, and the ``loci`` command."""

__version__ = "0.1.0"
