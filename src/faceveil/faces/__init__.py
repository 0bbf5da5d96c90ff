"""Faces in photos: detection, 5-point landmarks and alignment to canonical chips."""
