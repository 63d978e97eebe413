"""reelhouse: a self-hosted on-demand video platform speaking FastPix's manage-videos API."""

__version__ = "0.1.0"
