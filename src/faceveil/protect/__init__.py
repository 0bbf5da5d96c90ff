"""Protections that veil identity in face images: differential privacy (RDP, Pixel-DP, DCT-DP; seed 004)
and optical encoders (MEM-FR, LOEN; seed 000, in :mod:`.optical`)."""
