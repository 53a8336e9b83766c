"""The README's "Your own videos" walkthrough, command by command, on a small generated folder."""

import re
import shlex
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageSequence

from rwae import data
from rwae.cli import main
from rwae.pictures.model import FRAME_MS

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = README.read_text().split("## Your own videos", 1)[1].split("\n## ", 1)[0]
COMMANDS = [
    line.split("#")[0].strip()
    for line in re.search(r"```bash\n(.*?)```", SECTION, flags=re.S).group(1).splitlines()
    if line.strip()
]
FAST = [  # the walkthrough's training, shortened for a test
    "train.steps=3",
    "train.batch_size=4",
    "train.checkpoint_every=0",
    "train.sample_every=0",
]


def test_walkthrough_runs_on_a_folder_of_gifs(tmp_path, monkeypatch):
    repo = README.parent
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "my_gifs"
    folder.mkdir()
    test = data.load("sprites", "test")
    names = ["walk", "wave", *(f"clip{i:02d}" for i in range(10))]
    for i, name in enumerate(names):
        frames = (test[9 * i + i % 9]["x"].permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)
        images = [Image.fromarray(f) for f in frames]
        images[0].save(folder / f"{name}.gif", save_all=True, append_images=images[1:], loop=0)
    assert [c.split()[:2] for c in COMMANDS] == [
        ["rwae", "data"],
        ["rwae", "train"],
        ["rwae", "eval"],
        ["rwae", "encode"],
        ["rwae", "swap"],
    ]
    for command in COMMANDS:
        argv = shlex.split(command)[1:]
        if argv[0] == "train":
            argv = [a.replace("configs/", f"{repo}/configs/") for a in argv]
            argv[argv.index("--set") + 1 : argv.index("--set") + 1] = FAST
        assert main(argv) == 0, command
    assert (tmp_path / "my_gifs.png").is_file()
    assert (tmp_path / "runs/mine/eval/results.json").is_file()
    codes = np.load(tmp_path / "codes.npz")
    assert sorted(codes["name"].tolist()) == sorted(names)
    assert codes["dynamic"].shape[:2] == (12, 8)
    with Image.open(tmp_path / "walk_waving.gif") as im:
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(im)]
    assert sum(durations) == 8 * FRAME_MS  # 8 frames (identical neighbours merged into one)
    assert torch.isfinite(torch.from_numpy(codes["static"])).all()
