"""Free Spoken Digit Dataset (the TIMIT stand-in): 6 speakers x 10 digits x 50 takes, 8 kHz.

Static factor: speaker; dynamic factor: the spoken digit. Takes 0-4 are the test set (the official
split). Features: see rwae.data.audio (log-mel, 32 ms / 16 ms, 64 bands, T = 32 frames, "center").
Licence: CC-BY-SA 4.0, "Free Spoken Digit Dataset (Jakobovski et al.)".
"""

from __future__ import annotations

import os

from rwae.data import speech
from rwae.data.audio import FeatureConfig
from rwae.data.dataset import DatasetInfo, SequenceDataset
from rwae.data.paths import cache_dir, locate_raw

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
TAKES = 50
TEST_TAKES = 5


def _files() -> list[tuple[str, int, int, int]]:
    """(relative path, digit, speaker index, take) for all 3000 recordings."""
    return [
        (f"recordings/{d}_{name}_{take}.wav", d, s, take)
        for s, name in enumerate(SPEAKERS)
        for d in range(10)
        for take in range(TAKES)
    ]


def load(
    split: str = "train",
    root: str | os.PathLike | None = None,
    cache: str | os.PathLike | None = None,
    *,
    progress: bool = True,
    **feature_options,
) -> SequenceDataset:
    """FSDD split; items {"x": (T, 64), "speaker", "digit", "take", "utterance", "segment"}."""
    cfg = FeatureConfig(**feature_options)
    final = speech.cache_folder(cache_dir(cache), "fsdd", cfg)
    if not (final / "meta.json").is_file():
        files = _files()
        raw = locate_raw("fsdd", [f[0] for f in files], root)
        recordings = [
            speech.Recording(
                raw / rel,
                "test" if take < TEST_TAKES else "train",
                {"speaker": s, "digit": d, "take": take, "utterance": u},
            )
            for u, (rel, d, s, take) in enumerate(files)
        ]
        speech.build("fsdd", recordings, cfg, final, progress=progress)
    info = DatasetInfo(
        name="fsdd",
        kind="features",
        seq_len=cfg.seq_len,
        frame_shape=(cfg.n_mels,),
        label_classes={"speaker": len(SPEAKERS), "digit": 10},
        static_labels=("speaker",),
        dynamic_labels=("digit",),
        extra={"speakers": SPEAKERS},
    )
    return speech.load(final, split, info)
