"""The control surface: the Python face (surface.py), its HTTP routes under /_mockidp/ (routes.py), their guard, the OpenAPI document and the dashboard."""
