"""The dashboard and the embeddable player: server-rendered pages for people, served by `reelhouse serve`."""
