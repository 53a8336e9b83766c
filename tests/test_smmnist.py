import numpy as np
import pytest
import torch

from rwae import data
from rwae.data import smmnist
from rwae.errors import DataError


@pytest.fixture(scope="module")
def test_split():
    return data.load("smmnist", "test", size=64)


def test_shapes_and_labels(test_split):
    item = test_split[3]
    assert item["x"].shape == (15, 1, 64, 64)
    assert float(item["x"].min()) >= 0 and float(item["x"].max()) <= 1
    assert 0 <= item["digit"] <= 9
    assert item["positions"].shape == (15, 1, 2) and item["velocities"].shape == (15, 1, 2)
    assert len(test_split) == 64


def test_deterministic_per_index_and_seed(test_split):
    again = data.load("smmnist", "test", size=64)
    assert torch.equal(test_split[5]["x"], again[5]["x"])
    other_seed = data.load("smmnist", "test", size=64, seed=1)
    assert not torch.equal(test_split[5]["x"], other_seed[5]["x"])
    assert not torch.equal(test_split[5]["x"], test_split[6]["x"])


def test_digit_is_drawn_where_the_positions_say(test_split):
    for i in range(10):
        item = test_split[i]
        x = item["x"][:, 0]
        for t, (y, x0) in enumerate(item["positions"][:, 0].tolist()):
            assert 0 <= y <= 36 and 0 <= x0 <= 36
            inside = x[t, y : y + 28, x0 : x0 + 28].sum()
            assert torch.isclose(inside, x[t].sum())  # all ink lies in the digit's box


def test_motion_follows_velocity_and_bounces():
    rng = np.random.default_rng(0)
    changed = 0
    for _ in range(50):
        pos, vel = smmnist.bounce_trajectory(rng, 40)
        assert (pos >= 0).all() and (pos <= 36).all() and (np.abs(vel) <= 4).all()
        for t in range(1, 40):
            step = pos[t - 1] + vel[t - 1]
            inside = (step >= 0) & (step <= 36)
            assert (pos[t][inside] == step[inside]).all()
            changed += int((vel[t] != vel[t - 1]).any())
    assert changed > 0  # velocities are redrawn at walls


def test_two_digits_and_sequence_length():
    ds = data.load("smmnist", "train", size=8, num_digits=2, seq_len=10)
    item = ds[0]
    assert item["x"].shape == (10, 1, 64, 64) and item["digits"].shape == (2,)
    assert item["positions"].shape == (10, 2, 2)
    assert item["digit"] == int(item["digits"][0])


def test_train_val_and_test_use_their_own_mnist_digits(test_split):
    full = data.load("smmnist", "train_full", size=8)
    assert len(full.images) == 60000 and len(test_split.images) == 10000
    assert np.bincount(full.digit_labels).tolist()[:3] == [5923, 6742, 5958]
    train, val = data.load("smmnist", "train", size=8), data.load("smmnist", "val", size=8)
    assert (len(train.images), len(val.images)) == (54000, 6000)
    np.testing.assert_array_equal(np.concatenate([train.images, val.images]), full.images)
    assert (len(data.load("smmnist", "train")), len(data.load("smmnist", "val"))) == (54000, 6000)
    assert not torch.equal(val[0]["x"], train[0]["x"])  # val: its own stream and digits


def test_bad_options_are_clear_errors():
    with pytest.raises(DataError, match="split"):
        data.load("smmnist", "validation")
    with pytest.raises(DataError, match="num_digits"):
        data.load("smmnist", "test", num_digits=0)
    with pytest.raises(DataError, match="bad option"):
        data.load("smmnist", "test", colour=True)
