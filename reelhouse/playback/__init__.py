"""Playback: HLS playlists and segments, thumbnails and downloads, behind playback IDs and their access rules."""
