"""The pytest plugins every app's tests share, registered once in the root ``conftest.py``."""
