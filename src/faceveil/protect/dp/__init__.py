"""Differential privacy for face images (ranked DP in a Haar-wavelet subspace, Pixel-DP, DCT-DP): docs/dp.md."""
