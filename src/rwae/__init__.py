"""rwae: the Recurrent Wasserstein Autoencoder (Han et al., ICLR 2021) for disentangled sequence codes."""

from rwae._version import __version__
from rwae.config import ExperimentConfig, ModelConfig, load_config
from rwae.models import RWAE, EncoderOutput, RWAEOutput

RWAEConfig = ModelConfig  # the model's configuration dataclass

__all__ = [
    "RWAE",
    "EncoderOutput",
    "ExperimentConfig",
    "ModelConfig",
    "RWAEConfig",
    "RWAEOutput",
    "__version__",
    "load_config",
]
