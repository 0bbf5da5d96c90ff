"""Attacks on protected faces: U-Net blind deconvolution and Wiener deconvolution of optical encoders."""
