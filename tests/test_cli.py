import subprocess
import sys

import pytest
from PIL import Image

from rwae.cli import main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "data" in capsys.readouterr().out


def test_console_script_and_module_entry_points():
    out = subprocess.run(
        [sys.executable, "-m", "rwae", "data", "--help"], capture_output=True, text=True, check=True
    )
    assert "build" in out.stdout and "show" in out.stdout


@pytest.mark.parametrize(
    ("name", "options", "size"),
    [
        ("sprites", [], (64, 64)),
        ("smmnist", ["-o", "size=20"], (64, 64)),
        ("fsdd", [], None),
        ("timit", [], None),
    ],
)
def test_data_show_writes_a_grid(tmp_path, name, options, size):
    out = tmp_path / f"{name}.png"
    assert (
        main(["data", "show", name, "--out", str(out), "--count", "3", "--split", "test", *options])
        == 0
    )
    with Image.open(out) as im:
        assert im.mode == "RGB"
        if size:  # three rows of frames, plus gaps and the title
            assert im.height >= 3 * size[0] and im.width >= 8 * size[1]


def test_data_build_reports_splits(capsys):
    assert main(["data", "build", "fsdd"]) == 0
    out = capsys.readouterr().out
    for split, count in (("train", 2430), ("val", 270), ("test", 300)):
        assert f"fsdd {split}: {count} sequences" in out


def test_user_errors_are_one_line(tmp_path, capsys):
    assert (
        main(
            [
                "data",
                "show",
                str(tmp_path / "missing.npy"),
                "--out",
                str(tmp_path / "x.png"),
                "--split",
                "all",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("rwae: error:") and "missing.npy" in err and "Traceback" not in err
    assert main(["data", "build", "smmnist", "-o", "oops"]) == 2
    assert "key=value" in capsys.readouterr().err
