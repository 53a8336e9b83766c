"""`rwae encode` and `rwae swap --static/--dynamics` on a user's own files, with the built-in model."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from rwae import RWAE, data
from rwae.cli import main
from rwae.codes import encode_dataset, read_sequence


def write_gif(path, frames: np.ndarray) -> None:
    """frames (T, H, W, 3) uint8 -> an animated GIF."""
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)


@pytest.fixture(scope="module")
def sprites_frames():
    """Three test sequences as (N, T, H, W, 3) uint8 with their actions: two of one character."""
    test = data.load("sprites", "test")
    items = [test[i] for i in (0, 4, 40)]
    x = torch.stack([it["x"] for it in items])
    return (x.permute(0, 1, 3, 4, 2).numpy() * 255).round().astype(np.uint8), items


def test_encode_a_folder_of_gifs_gives_named_codes(tmp_path, sprites_frames, capsys):
    frames, items = sprites_frames
    folder = tmp_path / "videos"
    folder.mkdir()
    for name, seq in zip(("walk", "cast", "other"), frames, strict=True):
        write_gif(folder / f"{name}.gif", seq)
    (tmp_path / "labels.csv").write_text("name,mood\nwalk,1\ncast,0\nother,1\n")
    out = tmp_path / "codes.npz"
    argv = ["encode", "default", str(folder), "--out", str(out)]
    assert main([*argv, "--option", f"labels={tmp_path / 'labels.csv'}"]) == 0
    codes = np.load(out)
    model = RWAE.from_pretrained("default").eval()
    assert codes["static"].shape == (3, model.config.static_dim)
    assert codes["dynamic"].shape == (3, 8, model.config.dynamic_dim)
    assert sorted(codes["name"].tolist()) == ["cast", "other", "walk"]
    mood = dict(zip(codes["name"].tolist(), codes["label.mood"].tolist(), strict=True))
    assert mood == {"walk": 1, "cast": 0, "other": 1}
    # the codes are the model's posterior means of those very frames (GIF is lossless here)
    with torch.no_grad():
        post = model.encode(torch.stack([it["x"] for it in items]))
    order = [["walk", "cast", "other"].index(n) for n in codes["name"].tolist()]
    np.testing.assert_allclose(codes["static"], post.static_mean[order].numpy(), atol=1e-4)
    assert "3 sequences" in capsys.readouterr().out


def test_encode_refuses_frames_of_another_size_and_writes_nothing(tmp_path, capsys):
    array = np.zeros((2, 8, 3, 32, 32), np.uint8)
    np.save(tmp_path / "small.npy", array)
    out = tmp_path / "codes.npz"
    assert main(["encode", "default", str(tmp_path / "small.npy"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "(3, 32, 32)" in err and "(3, 64, 64)" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == [tmp_path / "small.npy"]


def test_encode_a_builtin_split_keeps_its_labels(tmp_path):
    model = RWAE.from_pretrained("default")
    val = data.load("sprites", "val")
    subset = torch.utils.data.Subset(val, range(5))
    codes = encode_dataset(model, subset)
    assert codes["label.action"].tolist() == [val[i]["action"] for i in range(5)]
    assert codes["name"].tolist() == ["0", "1", "2", "3", "4"]


def test_swap_two_files_takes_the_look_of_one_and_the_motion_of_the_other(tmp_path, sprites_frames):
    frames, items = sprites_frames
    big = np.stack(  # the look: 96x96 frames, resized to the model's 64x64
        [np.asarray(Image.fromarray(f).resize((96, 96), Image.NEAREST)) for f in frames[0]]
    )
    write_gif(tmp_path / "look.gif", big)
    np.save(tmp_path / "motion.npy", frames[2])  # (T, H, W, C) uint8
    out = tmp_path / "x.gif"
    argv = ["swap", "--static", str(tmp_path / "look.gif"), "--dynamics"]
    assert main([*argv, str(tmp_path / "motion.npy"), "--out", str(out)]) == 0
    with Image.open(out) as im:
        assert sum(1 for _ in ImageSequence.Iterator(im)) == 8
    model = RWAE.from_pretrained("default").eval()
    a = read_sequence(tmp_path / "look.gif", model.config.frame_shape)
    b = read_sequence(tmp_path / "motion.npy", model.config.frame_shape)
    assert a.shape == b.shape == (8, 3, 64, 64)
    assert (b - items[2]["x"]).abs().max() < 1e-6  # the .npy is read exactly
    assert main([*argv[:3], "--out", str(tmp_path / "y.gif")]) == 2  # one side missing


def test_read_sequence_errors_name_the_file(tmp_path):
    np.save(tmp_path / "many.npy", np.zeros((4, 8, 3, 64, 64), np.uint8))
    with pytest.raises(data.DataError, match="many.npy.*one sequence"):
        read_sequence(tmp_path / "many.npy", [3, 64, 64])
    np.save(tmp_path / "two_channels.npy", np.zeros((8, 2, 64, 64), np.uint8))
    with pytest.raises(data.DataError, match="2 channels"):
        read_sequence(tmp_path / "two_channels.npy", [3, 64, 64])
    with pytest.raises(data.DataError, match="no such file"):
        read_sequence(tmp_path / "missing.gif", [3, 64, 64])
