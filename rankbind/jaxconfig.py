"""Import this before using JAX in rankbind: it turns on float64 (x64) mode.

Free energies, MBAR and energy differences of large systems need double precision;
kernels that are fine in float32 (contact distances) cast their inputs explicitly.
"""

import jax

jax.config.update("jax_enable_x64", True)

__all__ = ["jax"]
