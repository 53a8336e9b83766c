"""The R-WAE model and its building blocks."""

from rwae.models.rwae import RWAE, EncoderOutput, RWAEOutput
