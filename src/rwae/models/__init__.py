"""The R-WAE model (rwae.py) in its parts: inference.py, generative.py, networks.py; files in
pretrained.py. The objective lives with the losses (rwae.losses.objective)."""

from rwae.losses.objective import RWAEOutput
from rwae.models.inference import EncoderOutput
from rwae.models.rwae import RWAE
