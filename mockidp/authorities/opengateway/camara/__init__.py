"""The CAMARA service APIs behind the Open Gateway: one shared layer (common.py) and one small module per API."""
