"""Loss terms: MMD (mmd), Gaussian / categorical divergences (gaussian), the latent critic of the
gan penalty (critic), and the R-WAE objective that combines them (objective)."""

from rwae.losses.gaussian import categorical_information_penalty, kl_normal
from rwae.losses.mmd import WAE_SCALES, gram, kernel, mmd, squared_distances
