"""divjax: divergence theory in JAX."""
__version__ = "0.1.0"
