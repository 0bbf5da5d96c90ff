"""Evaluation: verification and identification protocols, image-quality metrics."""
