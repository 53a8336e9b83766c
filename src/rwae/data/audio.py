"""Audio reading (RIFF WAV and NIST SPHERE PCM) and the log-mel feature pipeline shared by fsdd and timit.

Features (the same in milliseconds at every sample rate):
- Hann window of 32 ms (256 samples at 8 kHz, 512 at 16 kHz), zero-padded to an FFT of twice that
  length so that every mel band gets at least one bin near its peak; hop 16 ms;
- power spectrum -> 64 triangular mel bands (HTK mel scale) from 0 Hz to the Nyquist frequency;
- log(mel + 1e-6) on a waveform scaled to [-1, 1);
- per-band standardisation with the mean and std of the *train* split's frames (both splits use them).
Sequences are T frames (default 32 = 512 ms): "center" cuts the middle T frames of a clip or pads it
on both sides with silence (log 1e-6 before standardisation); "windows" splits a clip into
non-overlapping runs of T frames (the rest is dropped; a clip shorter than T gives one padded run).
"""

from __future__ import annotations

import math
import wave
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from rwae.errors import DataError

LOG_FLOOR = 1e-6


@dataclass(frozen=True)
class FeatureConfig:
    window_ms: float = 32.0
    hop_ms: float = 16.0
    n_mels: int = 64
    seq_len: int = 32
    segment: str = "center"  # "center" or "windows"

    def __post_init__(self) -> None:
        if self.segment not in ("center", "windows"):
            raise DataError(f"audio segment must be 'center' or 'windows', got {self.segment!r}")
        if self.seq_len < 1 or self.n_mels < 1 or self.window_ms <= 0 or self.hop_ms <= 0:
            raise DataError(
                f"audio features: seq_len, n_mels, window_ms and hop_ms must be positive, got {self}"
            )

    def as_dict(self) -> dict:
        return asdict(self)


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Mono 16-bit PCM from a RIFF WAV or an uncompressed NIST SPHERE file -> (float32 in [-1, 1), rate)."""
    with open(path, "rb") as f:
        head = f.read(1024)
    if head.startswith(b"NIST_1A"):
        return _read_sphere(path, head)
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise DataError(
                    f"{path}: expected mono 16-bit PCM, got {w.getnchannels()} channel(s) of {8 * w.getsampwidth()} bits"
                )
            rate, data = w.getframerate(), w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise DataError(f"{path}: not a readable PCM WAV file ({e})") from e
    return np.frombuffer(data, "<i2").astype(np.float32) / 32768.0, rate


def _read_sphere(path: Path, head: bytes) -> tuple[np.ndarray, int]:
    lines = head.split(b"\n")
    header_bytes = int(lines[1].strip())
    fields = {}
    for line in lines[2:]:
        parts = line.decode("ascii", "replace").split()
        if not parts or parts[0] == "end_head":
            break
        if len(parts) >= 3:
            fields[parts[0]] = parts[2]
    coding = fields.get("sample_coding", "pcm")
    if (
        coding != "pcm"
        or fields.get("sample_n_bytes") != "2"
        or fields.get("channel_count", "1") != "1"
    ):
        raise DataError(
            f"{path}: NIST SPHERE with coding {coding!r}, {fields.get('sample_n_bytes')} bytes/sample: only mono 16-bit PCM is supported"
        )
    dtype = ">i2" if fields.get("sample_byte_format") == "10" else "<i2"
    data = np.fromfile(path, dtype=dtype, offset=header_bytes)
    count = int(fields.get("sample_count", len(data)))
    return data[:count].astype(np.float32) / 32768.0, int(fields["sample_rate"])


def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    """Triangular HTK-mel filters from 0 Hz to Nyquist: (n_fft // 2 + 1, n_mels)."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(
        np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(sample_rate / 2)), n_mels + 2)
    )
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    up = (freqs[:, None] - lower[None]) / (center - lower)[None]
    down = (upper[None] - freqs[:, None]) / (upper - center)[None]
    return torch.from_numpy(np.clip(np.minimum(up, down), 0, None)).float()


def log_mel(signal: np.ndarray, sample_rate: int, cfg: FeatureConfig) -> np.ndarray:
    """Waveform -> log-mel frames (num_frames, n_mels), float32."""
    window = round(cfg.window_ms * sample_rate / 1000)
    hop = round(cfg.hop_ms * sample_rate / 1000)
    n_fft = 2 * window
    x = torch.from_numpy(signal)
    if len(x) < n_fft:
        x = torch.nn.functional.pad(x, (0, n_fft - len(x)))
    spec = torch.stft(
        x,
        n_fft,
        hop_length=hop,
        win_length=window,
        window=torch.hann_window(window),
        center=False,
        return_complex=True,
    )
    power = spec.abs().pow(2).T  # (frames, n_fft // 2 + 1)
    mel = power @ mel_filterbank(n_fft, cfg.n_mels, sample_rate)
    return torch.log(mel + LOG_FLOOR).numpy()


def segments(features: np.ndarray, cfg: FeatureConfig) -> list[np.ndarray]:
    """Cut (num_frames, D) into sequences of exactly cfg.seq_len frames (see module docstring)."""
    t, n = cfg.seq_len, len(features)
    silence = math.log(LOG_FLOOR)
    if n < t or cfg.segment == "center":
        if n >= t:
            start = (n - t) // 2
            return [features[start : start + t]]
        before = (t - n) // 2
        return [np.pad(features, ((before, t - n - before), (0, 0)), constant_values=silence)]
    return [features[i * t : (i + 1) * t] for i in range(n // t)]


def standardise(train: np.ndarray, *others: np.ndarray) -> tuple[list[np.ndarray], dict]:
    """Per-band mean/std of train's frames (N, T, D), applied to train and every other array."""
    frames = train.reshape(-1, train.shape[-1])
    mean = frames.mean(0)
    std = frames.std(0) + 1e-5
    out = [((a - mean) / std).astype(np.float32) for a in (train, *others)]
    return out, {"mean": mean.tolist(), "std": std.tolist()}
