import math

import numpy as np
import pytest

from rwae import data
from rwae.data import audio
from rwae.errors import DataError


def test_fsdd_split_and_labels():
    train, test = data.load("fsdd", "train_full"), data.load("fsdd", "test")
    assert (len(train), len(test)) == (2700, 300)
    assert set(test.labels["take"]) == set(range(5)) and min(train.labels["take"]) == 5
    fit, val = data.load("fsdd", "train"), data.load("fsdd", "val")
    assert (len(fit), len(val)) == (2430, 270)  # a tenth of the training recordings held out
    assert not set(fit.labels["utterance"]) & set(val.labels["utterance"])
    assert sorted([*fit.indices, *val.indices]) == sorted(train.indices)
    assert np.bincount(test.labels["speaker"]).tolist() == [50] * 6
    assert np.bincount(test.labels["digit"]).tolist() == [30] * 10
    item = test[0]
    assert item["x"].shape == (32, 64)
    # standardised with train statistics: train frames have mean ~0, std ~1 per band
    frames = train.frames[train.indices].reshape(-1, 64)
    np.testing.assert_allclose(frames.mean(0), 0, atol=1e-3)
    np.testing.assert_allclose(frames.std(0), 1, atol=1e-2)


def test_timit_split_by_speaker_and_labels():
    """Test speakers are never heard in training; val comes from the training speakers' sentences."""
    train, val, test = (data.load("timit", split) for split in ("train", "val", "test"))
    speakers = train.info.extra["speakers"]
    heard = set(train.labels["speaker"]) | set(val.labels["speaker"])
    assert len(heard) == 10 and not heard & set(test.labels["speaker"])
    assert sorted(speakers[s].split("-")[0] for s in set(test.labels["speaker"])) == sorted(
        ["dr6", "dr6", "dr7", "dr7", "dr8", "dr8"]
    )
    assert set(val.labels["speaker"]) <= set(train.labels["speaker"])
    assert not set(val.labels["utterance"]) & set(train.labels["utterance"])
    assert set(test.labels["gender"]) == {0, 1} and set(train.labels["dialect"]) == set(range(5))
    utterances = [len(set(d.labels["utterance"])) for d in (train, val, test)]
    assert sum(utterances) == 160  # the SPHERE file read too
    # several windows per utterance, all T frames long
    assert len(train) > len(set(train.labels["utterance"]))
    assert train[0]["x"].shape == (32, 64)


def test_timit_split_by_sentence_is_closed_set():
    train = data.load("timit", "train_full", split_by="sentence")
    test = data.load("timit", "test", split_by="sentence")
    sentences = train.info.extra["sentences"]
    assert all(sentences[s].startswith("sx") for s in set(test.labels["sentence"]))
    assert not any(sentences[s].startswith("sx") for s in set(train.labels["sentence"]))
    assert len(set(test.labels["speaker"])) == 16 and len(set(train.labels["speaker"])) == 16
    with pytest.raises(data.DataError, match="split_by"):
        data.load("timit", "test", split_by="dialect")


def test_sphere_file_is_read(raw_root):
    path = raw_root / "timit_sample" / "dr1-fvmh0" / "si836.wav"
    signal, rate = audio.read_audio(path)
    assert rate == 16000 and len(signal) == 68813
    assert -1 <= signal.min() < 0 < signal.max() < 1


def test_wav_reader(raw_root):
    signal, rate = audio.read_audio(raw_root / "fsdd" / "recordings" / "0_george_0.wav")
    assert rate == 8000 and signal.dtype == np.float32 and 0.1 < len(signal) / rate < 2.5


def test_bad_audio_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....not really a wav")
    with pytest.raises(DataError, match="broken.wav"):
        audio.read_audio(bad)


def test_mel_filterbank_covers_the_spectrum():
    fb = audio.mel_filterbank(512, 64, 8000)  # the FFT size used at 8 kHz
    assert fb.shape == (257, 64)
    assert (fb >= 0).all() and (fb.max(0).values > 0.5).all()  # every band has a peak
    peaks = fb.argmax(0)
    assert (peaks[1:] >= peaks[:-1]).all()  # bands in increasing frequency


def test_log_mel_of_a_tone_peaks_at_its_band():
    rate = 8000
    t = np.arange(rate) / rate
    cfg = audio.FeatureConfig()
    low = audio.log_mel(np.sin(2 * np.pi * 300 * t).astype(np.float32), rate, cfg).mean(0).argmax()
    high = (
        audio.log_mel(np.sin(2 * np.pi * 2500 * t).astype(np.float32), rate, cfg).mean(0).argmax()
    )
    assert low < high


def test_segments_center_and_windows():
    feats = np.arange(100 * 2, dtype=np.float32).reshape(100, 2)
    center = audio.segments(feats, audio.FeatureConfig(seq_len=32))
    assert len(center) == 1 and center[0][0, 0] == feats[34, 0]
    windows = audio.segments(feats, audio.FeatureConfig(seq_len=32, segment="windows"))
    assert len(windows) == 3 and all(w.shape == (32, 2) for w in windows)
    short = audio.segments(feats[:10], audio.FeatureConfig(seq_len=32, segment="windows"))
    assert len(short) == 1 and short[0].shape == (32, 2)
    assert (
        short[0][0, 0] == pytest.approx(math.log(audio.LOG_FLOOR))
        and short[0][11, 0] == feats[0, 0]
    )
    with pytest.raises(DataError, match="segment"):
        audio.FeatureConfig(segment="random")
