"""faceveil: privacy-preserving and degradation-robust face recognition, measured by one evaluation core.

Conventions (see docs/design.md): images inside the library are ``torch.float32`` NCHW tensors in
[0, 1] (RGB or grey); embeddings are float32 (N, D), L2-normalised; scores are cosine similarities
(higher = same person) unless a result says otherwise.
"""

__version__ = "0.1.0"
