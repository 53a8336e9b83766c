"""Data-root discovery and the errors for missing or corrupt raw files."""

import gzip
import shutil

import pytest

from rwae import data
from rwae.data import paths, smmnist
from rwae.errors import DataError


def test_missing_raw_files_name_files_checksums_and_places(tmp_path, monkeypatch):
    monkeypatch.setenv("RWAE_DATA_ROOT", str(tmp_path / "nowhere"))
    monkeypatch.chdir(tmp_path)  # so ../shared/data is not found either
    with pytest.raises(DataError) as err:
        data.load("smmnist", "test", cache=tmp_path / "cache")
    message = str(err.value)
    for name in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert name in message
    assert "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609" in message
    assert (
        str(tmp_path / "nowhere") in message
        and "RWAE_DATA_ROOT" in message
        and "../shared/data" in message
    )


def test_many_missing_files_point_to_the_full_list(tmp_path):
    with pytest.raises(DataError) as err:
        data.load("fsdd", "test", root=tmp_path, cache=tmp_path / "cache")
    message = str(err.value)
    assert (
        "recordings/0_george_0.wav" in message
        and "and 2990 more" in message
        and "fsdd.sha256" in message
    )


def test_corrupt_raw_file_is_named(tmp_path, raw_root):
    shutil.copytree(raw_root / "mnist", tmp_path / "mnist")
    target = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    target.chmod(0o644)
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: sha256 is"):
        data.load("smmnist", "test", root=tmp_path, cache=tmp_path / "cache")


def test_explicit_root_wins_over_environment(tmp_path, raw_root, monkeypatch):
    monkeypatch.setenv("RWAE_DATA_ROOT", str(tmp_path / "wrong"))
    ds = data.load("smmnist", "test", root=raw_root, cache=tmp_path / "cache", size=4)
    assert len(ds) == 4
    candidates = paths.data_root_candidates()
    assert candidates[0][1] == tmp_path / "wrong" and candidates[-1][1].parts[-2:] == (
        "shared",
        "data",
    )


def test_idx_reader_checks_magic_and_size(tmp_path):
    bad = tmp_path / "labels.gz"
    with gzip.open(bad, "wb") as f:
        f.write((2051).to_bytes(4, "big") + (5).to_bytes(4, "big") + bytes(5))
    with pytest.raises(DataError, match="magic number 2051, expected 2049"):
        smmnist.read_idx(bad, 2049)
    short = tmp_path / "images.gz"
    with gzip.open(short, "wb") as f:
        f.write(
            (2051).to_bytes(4, "big")
            + (2).to_bytes(4, "big")
            + (28).to_bytes(4, "big") * 2
            + bytes(100)
        )
    with pytest.raises(DataError, match="expected 1568"):
        smmnist.read_idx(short, 2051)


def test_unknown_name_is_a_clear_error():
    with pytest.raises(DataError, match="unknown dataset 'spritez'"):
        data.load("spritez")


def test_interrupted_build_leaves_no_cache(tmp_path):
    target = tmp_path / "built"
    with pytest.raises(RuntimeError), paths.atomic_directory(target) as tmp:
        (tmp / "half.npy").write_bytes(b"x")
        raise RuntimeError("killed")
    assert not target.exists() and list(tmp_path.iterdir()) == []
