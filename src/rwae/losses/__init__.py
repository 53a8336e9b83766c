"""Loss terms: MMD (mmd), Gaussian divergences (gaussian), the action code's penalties
(categorical), the latent critic of the gan penalty (critic), and the R-WAE objective that
combines them (objective)."""

from rwae.losses.categorical import categorical_information_penalty
from rwae.losses.gaussian import kl_normal
from rwae.losses.mmd import WAE_SCALES, gram, kernel, mmd, squared_distances
