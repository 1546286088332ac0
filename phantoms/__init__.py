"""Phantom definitions (data files), installed as ``petsim.phantom_data``."""
