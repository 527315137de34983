"""Fast paths behind the torch reference: tiny-cuda-nn adapters and (later) Triton kernels.

Nothing here is imported at package import time; each adapter imports its native package lazily and
falls back to torch with one logged line when it cannot be used.
"""
