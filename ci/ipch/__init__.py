"""The machinery behind the ipch command: build, test, fuzz and replay."""
