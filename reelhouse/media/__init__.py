"""Media inspection and processing built on ffmpeg and PyAV."""
