"""Protections that veil identity in face images: differential privacy (RDP, Pixel-DP, DCT-DP)."""
