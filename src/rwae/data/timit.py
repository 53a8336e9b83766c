"""The public TIMIT sample (NLTK): 16 speakers (one female, one male per dialect region) x 10
sentences, 16 kHz. Non-commercial licence (CC BY-NC-SA): read from the data root, never bundled.

Split for speaker verification, by speaker (the field's protocol: test speakers are never heard in
training): the 6 speakers of dialect regions 6, 7 and 8 (a woman and a man each) are the test split,
the other 10 train; `val` holds out 30 % of the training speakers' utterances (closed-set: for
choosing, not for reporting). `split_by="sentence"` gives the older closed-set split: sa1, sa2 and
si* train, sx* test, every speaker on both sides. Features as fsdd (rwae.data.audio) with segment="windows": each utterance
(about 3 s) gives several sequences of T frames; pool codes per "utterance" label for the EER.
dr1-fvmh0/si836.wav is NIST SPHERE despite its name; the reader handles it.
"""

from __future__ import annotations

import os

from rwae.data import speech
from rwae.data.audio import FeatureConfig
from rwae.data.dataset import DatasetInfo, SequenceDataset
from rwae.data.paths import cache_dir, locate_raw, read_checksums
from rwae.errors import DataError

TEST_REGIONS = ("dr6", "dr7", "dr8")  # split_by="speaker": their 6 speakers are the test split


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
    split_by: str = "speaker",
    **feature_options,
) -> SequenceDataset:
    """TIMIT-sample split; items {"x": (T, 64), "speaker", "gender" (0 f, 1 m), "dialect" (0-7),
    "sentence", "utterance", "segment"}. split_by: "speaker" (test speakers unseen) | "sentence"."""
    if split_by not in ("speaker", "sentence"):
        raise DataError(f"timit: split_by must be 'speaker' or 'sentence', got {split_by!r}")
    cfg = FeatureConfig(segment=segment, **feature_options)
    utterances = _utterances()
    speakers = sorted({spk for spk, _ in utterances})
    sentences = sorted({sent for _, sent in utterances})
    cache_name = "timit" if split_by == "sentence" else "timit_by_speaker"
    final = speech.cache_folder(cache_dir(cache), cache_name, cfg)
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
            if split_by == "sentence":
                side = "test" if sent.startswith("sx") else "train"
            else:
                side = "test" if region in TEST_REGIONS else "train"
            recordings.append(speech.Recording(raw / spk / f"{sent}.wav", side, labels))
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
        extra={"speakers": speakers, "sentences": sentences, "split_by": split_by},
    )
    # by speaker, val holds 30 % of the training speakers' utterances: enough same-speaker pairs
    # for a validation EER (a tenth would be 10 utterances)
    return speech.load(final, split, info, 0.3 if split_by == "speaker" else speech.VAL_FRACTION)
