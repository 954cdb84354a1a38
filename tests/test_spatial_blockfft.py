"""spatial.blockfft: the renderer's direct pocketfft calls give scipy.fft's results."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft

from spatial import blockfft


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_real_ffts_equal_scipy_s(monkeypatch, direct: bool, dtype) -> None:
    if not direct:
        monkeypatch.setattr(blockfft, "_pocketfft", None)
    x = np.random.default_rng(0).standard_normal((2, 3, 512)).astype(dtype)
    spectra = blockfft.rfft(x)
    expected = scipy.fft.rfft(x, axis=-1)
    assert spectra.dtype == expected.dtype and spectra.shape == (2, 3, 257)
    tolerance = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(spectra, expected, atol=tolerance)
    back = blockfft.irfft(spectra, 512)
    assert back.dtype == x.dtype
    np.testing.assert_allclose(back, x, atol=tolerance)
    np.testing.assert_allclose(back, scipy.fft.irfft(expected, n=512, axis=-1), atol=tolerance)
