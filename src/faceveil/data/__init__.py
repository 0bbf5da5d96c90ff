"""Data sets and protocols: LFW views, identity folders, the embedded sample, image loading."""
