"""Differential privacy for face images: ranked DP in a Haar-wavelet subspace, Pixel-DP, DCT-DP, DP-Pix,
and the budget ledger (docs/dp.md)."""
