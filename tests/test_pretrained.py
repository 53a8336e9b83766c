import pytest
import torch

from rwae import RWAE
from rwae.cli import main
from rwae.errors import RWAEError
from rwae.models import pretrained
from tests.helpers import tiny_model_config


def test_from_pretrained_accepts_a_run_folder(tmp_path):
    model = RWAE(tiny_model_config()).eval()
    model.save_pretrained(tmp_path / "run" / "model")
    loaded = RWAE.from_pretrained(tmp_path / "run")
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_half_precision_weights_load_into_a_float32_model(tmp_path):
    model = RWAE(tiny_model_config()).eval()
    model.save_pretrained(tmp_path / "full")
    model.save_pretrained(tmp_path / "half", dtype=torch.float16)
    full = (tmp_path / "full" / pretrained.WEIGHTS_NAME).stat().st_size
    half = (tmp_path / "half" / pretrained.WEIGHTS_NAME).stat().st_size
    assert half < 0.6 * full
    loaded = RWAE.from_pretrained(tmp_path / "half")
    assert next(model.parameters()).dtype == torch.float32  # the saved model is left as it was
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert b.dtype == a.dtype
        assert torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-4)


def test_a_missing_shipped_model_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "SHIPPED_ROOT", tmp_path)
    with pytest.raises(RWAEError, match="shipped model 'default' is missing"):
        pretrained.resolve_model_dir("default")
    with pytest.raises(RWAEError, match="no shipped model named 'best'"):
        pretrained.shipped_model_dir("best")


def test_a_folder_named_like_a_shipped_model_wins(tmp_path, monkeypatch):
    RWAE(tiny_model_config()).save_pretrained(tmp_path / "default")
    monkeypatch.chdir(tmp_path)
    assert pretrained.resolve_model_dir("default").resolve() == tmp_path / "default"


def test_the_model_is_given_once(tmp_path, capsys):
    assert main(["sample", "a", "--model", "b", "--out", str(tmp_path / "s.png")]) == 2
    assert "give the model once" in capsys.readouterr().err
