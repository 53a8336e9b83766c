"""Loss terms: MMD (losses.mmd) and Gaussian / categorical divergences (losses.gaussian)."""

from rwae.losses.gaussian import categorical_information_penalty, kl_normal
from rwae.losses.mmd import WAE_SCALES, gram, hsic, kernel, mmd, squared_distances
