"""Every picture the library draws, in one place: grids of sequences (grid), what a model does
(model: swaps, samples, the training progress grid) and line plots (plots)."""

from rwae.pictures.grid import draw_grid, show_dataset
from rwae.pictures.model import progress_grid, save_samples, save_swap, swap_cells
from rwae.pictures.plots import plot_curves, plot_lines
