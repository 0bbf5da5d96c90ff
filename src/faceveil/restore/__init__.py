"""Restorers: networks that recover identity from degraded faces (super-resolution of low-resolution faces,
reconstruction of occluded faces)."""
