"""Token mixers, one file per paper; importing this package registers them all in ``MIXERS``."""

from fields.heads.mixers import (  # noqa: F401
    activator,
    gam,
    gated_attention,
    gnconv,
    hyperzzw,
    maxim,
    ms_mlp,
    pat,
    pflayer,
    pool,
    raft_mlp,
    scaling_mlp,
    spectrum,
    strip_mlp,
    swin,
    vig,
)
