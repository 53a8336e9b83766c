import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from rwae import data
from rwae.errors import DataError

image_shapes = st.tuples(
    st.integers(1, 4),
    st.integers(1, 5),
    st.sampled_from([1, 3]),
    st.integers(1, 6),
    st.integers(1, 6),
)
feature_shapes = st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 7))
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(x=arrays(np.uint8, image_shapes))
def test_uint8_images_round_trip(tmp_path, x):
    path = tmp_path / "seqs.npy"
    np.save(path, x)
    ds = data.load(path, "all")
    assert len(ds) == x.shape[0] and ds.info.kind == "image"
    for i in range(len(ds)):
        np.testing.assert_allclose(ds[i]["x"].numpy(), x[i] / 255.0, atol=1e-6)


@SETTINGS
@given(x=arrays(np.float32, feature_shapes, elements=st.floats(-1e3, 1e3, width=32)))
def test_float_features_round_trip(tmp_path, x):
    path = tmp_path / "feats.npz"
    labels = np.arange(x.shape[0]) % 3
    np.savez(path, x=x, speaker=labels)
    ds = data.load(path, "all")
    assert ds.info.kind == "features" and ds.info.frame_shape == (x.shape[2],)
    for i in range(len(ds)):
        assert torch.equal(ds[i]["x"], torch.from_numpy(x[i]))
        assert ds[i]["speaker"] == labels[i]


@SETTINGS
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=6).filter(lambda s: len(s) not in (3, 5))
)
def test_wrong_number_of_dimensions_is_refused(tmp_path, shape):
    path = tmp_path / "bad.npy"
    np.save(path, np.zeros(shape, np.float32))
    with pytest.raises(DataError, match=r"bad.npy: expected shape \(N, T, C, H, W\)"):
        data.load(path, "all")


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full((2, 3, 1, 4, 4), 1.5, np.float32), r"must lie in \[0, 1\]"),
        (np.full((2, 3, 4), np.nan, np.float32), "NaN"),
        (np.zeros((2, 3, 8, 8, 3), np.uint8), "channels-last"),
        (np.zeros((2, 3, 4), np.int16), "dtype int16"),
        (np.zeros((2, 3, 4), np.uint8), "features must be float"),
        (np.zeros((0, 3, 4), np.float32), "empty"),
    ],
)
def test_bad_arrays_are_named(tmp_path, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(DataError, match=message) as err:
        data.load(path, "all")
    assert "bad.npy" in str(err.value)


def test_npz_label_length_mismatch(tmp_path):
    path = tmp_path / "seqs.npz"
    np.savez(path, x=np.zeros((4, 2, 3), np.float32), digit=np.arange(3))
    with pytest.raises(DataError, match="label 'digit'.*expected 4 integers"):
        data.load(path, "all")


def test_npz_needs_x_key_when_ambiguous(tmp_path):
    path = tmp_path / "seqs.npz"
    np.savez(path, a=np.zeros((4, 2, 3), np.float32), b=np.zeros((4, 2, 3), np.float32))
    with pytest.raises(DataError, match="key 'x'"):
        data.load(path, "all")


def _write_gif(path, frames):
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=100, loop=0)


def test_folder_of_gifs_with_csv_labels(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("b", "a", "c"):
        _write_gif(
            tmp_path / f"{name}.gif",
            [np.full((8, 8, 3), rng.integers(0, 255), np.uint8) for _ in range(4)],
        )
    (tmp_path / "labels.csv").write_text("name,style\na,0\nb,1\nc,2\n")
    ds = data.load(tmp_path, "all", labels=tmp_path / "labels.csv", cache=tmp_path / "cache")
    assert len(ds) == 3 and ds[0]["x"].shape == (4, 3, 8, 8)
    assert [ds[i]["style"] for i in range(3)] == [0, 1, 2]  # sorted names a, b, c match their rows
    assert ds.info.label_classes == {"style": 3}


def test_folder_of_frame_folders_and_seq_len(tmp_path):
    for s, count in enumerate((5, 6)):
        seq = tmp_path / "videos" / f"seq{s}"
        seq.mkdir(parents=True)
        for t in range(count):
            Image.fromarray(np.full((6, 10, 3), 10 * t, np.uint8)).save(seq / f"{t:03d}.png")
    with pytest.raises(DataError, match="seq1: 6 frames, expected 5"):
        data.load(tmp_path / "videos", "all", cache=tmp_path / "cache")
    ds = data.load(tmp_path / "videos", "all", seq_len=5, cache=tmp_path / "cache")
    assert ds[1]["x"].shape == (5, 3, 6, 10)
    assert float(ds[1]["x"][2].mean()) == pytest.approx(20 / 255)


def test_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        data.load(tmp_path / "empty", "all", cache=tmp_path / "cache")
    mixed = tmp_path / "mixed"
    (mixed / "frames").mkdir(parents=True)
    _write_gif(mixed / "a.gif", [np.zeros((4, 4, 3), np.uint8)] * 2)
    with pytest.raises(DataError, match="mixes"):
        data.load(mixed, "all", cache=tmp_path / "cache")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.gif").write_bytes(b"GIF89a garbage")
    with pytest.raises(DataError, match="x.gif: not a readable GIF"):
        data.load(broken, "all", cache=tmp_path / "cache")


def test_label_file_that_does_not_match(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 2, 4), np.float32))
    (tmp_path / "labels.csv").write_text("digit\n1\n2\n")
    with pytest.raises(DataError, match="labels.csv: label 'digit'.*expected 3"):
        data.load(tmp_path / "x.npy", "all", labels=tmp_path / "labels.csv")
    (tmp_path / "words.csv").write_text("digit\none\ntwo\nthree\n")
    with pytest.raises(DataError, match="words.csv: column 'digit' must hold integers"):
        data.load(tmp_path / "x.npy", "all", labels=tmp_path / "words.csv")
    with pytest.raises(DataError, match="missing.csv: labels file not found"):
        data.load(tmp_path / "x.npy", "all", labels=tmp_path / "missing.csv")


def test_train_val_test_split_is_deterministic_and_disjoint(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((20, 2, 4), np.float32))
    parts = {s: data.load(tmp_path / "x.npy", s) for s in ("train", "val", "test", "train_full")}
    assert {s: len(p) for s, p in parts.items()} == {
        "train": 16,
        "val": 2,
        "test": 2,
        "train_full": 18,
    }
    indices = {s: set(p.indices) for s, p in parts.items()}
    assert not indices["train"] & indices["val"] and not indices["train_full"] & indices["test"]
    assert indices["train"] | indices["val"] == indices["train_full"]
    assert list(data.load(tmp_path / "x.npy", "test").indices) == list(parts["test"].indices)


def test_missing_path(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        data.load(tmp_path / "nothing.npy", "all")
