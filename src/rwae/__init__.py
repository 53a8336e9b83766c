"""rwae: the Recurrent Wasserstein Autoencoder (Han et al., ICLR 2021) for disentangled sequence codes."""

from rwae._version import __version__

__all__ = ["__version__"]
