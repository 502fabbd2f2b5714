"""The gallery and the script that renders it (python3 -m examples.gallery.render_gallery)."""
