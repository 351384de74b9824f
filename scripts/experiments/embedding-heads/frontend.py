"""EfficientAT mn04 log-mel front end in numpy (MODELS.md "efficientat-mn04 — audio")."""
import subprocess
import numpy as np

SR = 32000
N_FFT = 1024
HOP = 320
WIN = 800
N_MELS = 128
FMIN, FMAX = 0.0, 15000.0


def _window():
    n = np.arange(WIN)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / (WIN - 1))  # symmetric
    w = np.zeros(N_FFT)
    off = (N_FFT - WIN) // 2
    w[off:off + WIN] = hann
    return w


def _kaldi_mel():
    mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)
    num_fft_bins = N_FFT // 2  # 512
    fft_bin_width = SR / N_FFT
    mel_low, mel_high = mel(FMIN), mel(FMAX)
    delta = (mel_high - mel_low) / (N_MELS + 1)
    bins = mel(fft_bin_width * np.arange(num_fft_bins))
    fb = np.zeros((N_MELS, N_FFT // 2 + 1))
    for m in range(N_MELS):
        left = mel_low + m * delta
        center = left + delta
        right = center + delta
        up = (bins - left) / (center - left)
        down = (right - bins) / (right - center)
        fb[m, :num_fft_bins] = np.maximum(0.0, np.minimum(up, down))
    return fb


_W = _window()
_FB = _kaldi_mel()


def logmel(x):
    """x: float mono 32 kHz -> [128, frames] float32."""
    x = np.asarray(x, dtype=np.float64)
    y = x[1:] - 0.97 * x[:-1]
    p = np.pad(y, (N_FFT // 2, N_FFT // 2), mode="reflect")
    frames = 1 + (len(y) - 1) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    spec = np.fft.rfft(p[idx] * _W[None, :], axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    mel = power @ _FB.T  # [frames, 128]
    out = (np.log(mel + 1e-5) + 4.5) / 5.0
    return out.T.astype(np.float32)


def decode(path):
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-vn", "-ac", "1", "-ar", str(SR), "-f", "f32le", "-"],
        check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.float32)


if __name__ == "__main__":
    import argparse
    import os
    ap = argparse.ArgumentParser(description="check logmel() against SHARED/fixtures/reference")
    ap.add_argument("--shared", default=os.environ.get("VIGIL_SHARED", "../shared"))
    ref = os.path.join(ap.parse_known_args()[0].shared, "fixtures", "reference") + os.sep
    for name in ["glass", "metro"]:
        x = np.fromfile(ref + f"{name}_32k_mono.f32le", dtype=np.float32)
        want = np.fromfile(ref + f"{name}_logmel_128xT.f32le", dtype=np.float32).reshape(128, -1)
        got = logmel(x)
        print(name, got.shape, want.shape, "max abs diff", float(np.abs(got - want).max()))
