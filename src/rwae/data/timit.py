"""The public TIMIT sample (NLTK): 16 speakers (one female, one male per dialect region) x 10
sentences, 16 kHz. Non-commercial licence (CC BY-NC-SA): read from the data root, never bundled.

Split for speaker verification, by sentence: sa1, sa2 and si* train, sx* test. Every speaker is in
both splits (a speaker split would leave 4 test speakers, too few for an EER), and no test sentence
is heard in training. Features as fsdd (rwae.data.audio) with segment="windows": each utterance
(about 3 s) gives several sequences of T frames; pool codes per "utterance" label for the EER.
dr1-fvmh0/si836.wav is NIST SPHERE despite its name; the reader handles it.
"""

from __future__ import annotations

import os

from rwae.data import speech
from rwae.data.audio import FeatureConfig
from rwae.data.dataset import DatasetInfo, SequenceDataset
from rwae.data.paths import cache_dir, locate_raw, read_checksums


def _utterances() -> list[tuple[str, str]]:
    """(speaker folder, sentence id) for the 160 recordings, from the shipped checksum list."""
    wavs = sorted(p for p in read_checksums("timit_sample") if p.endswith(".wav"))
    return [tuple(p.removesuffix(".wav").split("/")) for p in wavs]


def load(
    split: str = "train",
    root: str | os.PathLike | None = None,
    cache: str | os.PathLike | None = None,
    *,
    progress: bool = True,
    segment: str = "windows",
    **feature_options,
) -> SequenceDataset:
    """TIMIT-sample split; items {"x": (T, 64), "speaker", "gender" (0 f, 1 m), "dialect" (0-7),
    "sentence", "utterance", "segment"}."""
    cfg = FeatureConfig(segment=segment, **feature_options)
    utterances = _utterances()
    speakers = sorted({spk for spk, _ in utterances})
    sentences = sorted({sent for _, sent in utterances})
    final = speech.cache_folder(cache_dir(cache), "timit", cfg)
    if not (final / "meta.json").is_file():
        raw = locate_raw("timit_sample", [f"{spk}/{sent}.wav" for spk, sent in utterances], root)
        recordings = []
        for u, (spk, sent) in enumerate(utterances):
            region, person = spk.split("-")
            labels = {
                "speaker": speakers.index(spk),
                "gender": int(person[0] == "m"),
                "dialect": int(region.removeprefix("dr")) - 1,
                "sentence": sentences.index(sent),
                "utterance": u,
            }
            recordings.append(
                speech.Recording(
                    raw / spk / f"{sent}.wav", "test" if sent.startswith("sx") else "train", labels
                )
            )
        speech.build("timit", recordings, cfg, final, progress=progress)
    info = DatasetInfo(
        name="timit",
        kind="features",
        seq_len=cfg.seq_len,
        frame_shape=(cfg.n_mels,),
        label_classes={
            "speaker": len(speakers),
            "gender": 2,
            "dialect": 8,
            "sentence": len(sentences),
        },
        static_labels=("speaker", "gender", "dialect"),
        dynamic_labels=(),
        extra={"speakers": speakers, "sentences": sentences},
    )
    return speech.load(final, split, info)
