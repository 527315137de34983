"""Processing heads: a MetaFormer skeleton (block, pyramid, isotropic, UNet) and a registry of token mixers."""

from fields.heads import mixers  # noqa: F401  (registers the mixers)
from fields.heads.block import MetaFormerBlock
from fields.heads.channel_set import ChannelSetTransformer
from fields.heads.channel_mlp import build_channel_mlp
from fields.heads.isotropic import IsotropicClassifier
from fields.heads.pointnet import PointNet
from fields.heads.pyramid import PyramidClassifier
from fields.heads.registry import BACKBONES, MIXERS, TokenMixer, build_mixer
from fields.heads.unet import MetaFormerUNet

__all__ = ["BACKBONES", "MIXERS", "TokenMixer", "build_mixer", "build_channel_mlp", "MetaFormerBlock",
           "PyramidClassifier", "IsotropicClassifier", "MetaFormerUNet", "ChannelSetTransformer", "PointNet"]
