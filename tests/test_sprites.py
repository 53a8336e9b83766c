import hashlib

import numpy as np
import pytest

from rwae import data
from rwae.data import sprites

# Golden hashes from ../shared/data/MANIFEST.md: uint8 (8, 64, 64, 3) frames, C order.
GOLDEN = {
    (0, "walk"): "67f0355ee3366d36d44118e02dae0cd9fdbba6dda0230206f0529f3605446d6c",
    (0, "spellcard"): "1bbd6fcbf1a98254f8710480b36f2c091ccdb8bb3ee752844838f1640e9677b2",
    (0, "slash"): "7e4a975cde92db8f8ed734580ed54e1f9a281cb12d38dce7620ce398cae389f4",
    (1295, "walk"): "34adbe1e5b0cab3c124331f2e7e172215366597236631edb4e39def625aa061e",
    (1295, "spellcard"): "368c38f9702ec82e7862cc2943a818e060b7c0ade0f3ec1c2eadf9bce481941c",
    (1295, "slash"): "7ca7ad95e314332b570f65f1476fc70ba46fe4b101c09c2ee51ba2045fee7a9a",
}
WHOLE_DATASET = "9a90d76e1172c33b1a9e318a299657cecb9d9d19ddfd0d085e800b796a07a9f3"


@pytest.fixture(scope="module")
def full():
    return data.load("sprites", "all")


@pytest.mark.parametrize(("character", "action"), list(GOLDEN))
def test_golden_sequence_hashes(full, character, action):
    n = 9 * character + 3 * sprites.ACTIONS.index(action) + 0  # direction 0 = front
    assert full.labels["character"][n] == character
    assert (
        hashlib.sha256(np.ascontiguousarray(full.frames[n]).tobytes()).hexdigest()
        == GOLDEN[(character, action)]
    )


def test_whole_dataset_hash(full):
    digest = hashlib.sha256()
    for start in range(
        0, len(full.frames), 1296
    ):  # s = 0..1295, actions, directions: the stored order
        digest.update(np.ascontiguousarray(full.frames[start : start + 1296]).tobytes())
    assert digest.hexdigest() == WHOLE_DATASET


def test_mean_rgb_matches_manifest(full):
    mean = full.frames[::7].reshape(-1, 3).mean(0) / 255
    np.testing.assert_allclose(mean, [0.10452, 0.08575, 0.08139], atol=2e-3)


def test_split_is_the_original_one():
    perm = np.random.RandomState(423).permutation(1296)
    assert list(perm[:5]) == [1116, 1135, 17, 469, 1293]
    train, test = data.load("sprites", "train_full"), data.load("sprites", "test")
    assert (len(train), len(test)) == (9000, 2664)
    fit, val = data.load("sprites", "train"), data.load("sprites", "val")
    assert (len(fit), len(val)) == (8100, 900)
    fit_chars, val_chars = set(fit.labels["character"]), set(val.labels["character"])
    assert val_chars == set(perm[900:1000].tolist()) and not fit_chars & val_chars
    train_chars, test_chars = set(train.labels["character"]), set(test.labels["character"])
    assert len(train_chars) == 1000 and len(test_chars) == 296 and not train_chars & test_chars
    assert set(test_chars) == set(perm[1000:].tolist())
    for split in (train, test):  # every character has all 9 actions
        counts = np.bincount(split.labels["action"], minlength=9)
        assert (counts == len(split) // 9).all()


def test_items_and_labels():
    test = data.load("sprites", "test")
    item = test[10]
    x = item["x"]
    assert x.shape == (8, 3, 64, 64) and x.dtype.is_floating_point
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    s = item["character"]
    assert (
        item["body"],
        item["bottom"],
        item["top"],
        item["hair"],
    ) == sprites.character_attributes(s)
    raw = test.frames[test.indices[10]]
    np.testing.assert_allclose(x.permute(0, 2, 3, 1).numpy(), raw / 255.0, atol=1e-6)
    batch = test.batch([10, 3, 10])
    assert (
        batch["x"].shape == (3, 8, 3, 64, 64)
        and (batch["x"][0] == x).all()
        and (batch["x"][2] == x).all()
    )
    assert int(batch["character"][1]) == test[3]["character"]


def test_action_labels_follow_manifest_order(full):
    # sequence 9*s + 3*action + direction: walk-front is 0, slash-right is 8
    assert list(full.labels["action"][:9]) == list(range(9))
    assert sprites.ACTION_NAMES[0] == "walk-front" and sprites.ACTION_NAMES[8] == "slash-right"


def test_rebuild_is_instant_and_identical(full, data_environment):
    folder = sprites.build()
    assert folder.parent == data_environment
    assert (folder / "meta.json").is_file()
    import json

    assert json.loads((folder / "meta.json").read_text())["sha256_uint8_stream"] == WHOLE_DATASET


def test_licence_and_credits_ship_with_the_art():
    assets = sprites.assets_dir()
    for name in (
        "CC-BY-SA-3.0-LICENSE",
        "GNU-GPL-3.0-LICENSE",
        "CREDITS.md",
        "upstream/AUTHORS.txt",
    ):
        assert (assets / name).is_file(), name
    assert "Stephen Challener" in (assets / "CREDITS.md").read_text()
