"""What a backbone offers, read from its library's config without loading weights: layer names, channels and
strides, default Feat-D layers, embedding width, the smallest input, whether it has a text tower. The discriminators
size themselves from it, so none builds an encoder on the CPU just to count channels; the encoders answer from the
same layout.

Layers are named the way each family is drawn: ``layer1..4`` for CLIP's ResNets (open_clip's names), ``stage1..N``
for other CNNs (ConvNeXt, EfficientNet: timm's feature stages), ``block1..N`` for ViTs (the token grid after that
block).
"""
from dataclasses import dataclass
from functools import lru_cache

import open_clip
import torch

from ..utils.errors import InputError
from .names import OPEN_CLIP, backbone_name, split_backbone

RESNET_STAGES = ('layer1', 'layer2', 'layer3', 'layer4')
RESNET_STRIDES = {'layer1': 4, 'layer2': 8, 'layer3': 16, 'layer4': 32}
RESNET_DEFAULT_LAYERS = ('layer2', 'layer3')
BOTTLENECK_EXPANSION = 4  # open_clip's ModifiedResNet: a stage's output is 4x its bottleneck width
CNN_DEFAULT_STRIDES = (8, 16)  # as RN50's layer2 and layer3: local texture and semantics


@dataclass(frozen=True)
class EncoderLayout:
    model_name: str
    stages: tuple
    layer_channels: dict
    layer_strides: dict
    default_layers: tuple
    embed_dim: int  # 0: the backbone has no image embedding to compare with text
    tower: str  # 'resnet' / 'vit' (open_clip's own towers), 'timm' (a timm trunk, in open_clip or alone)
    has_text: bool

    @property
    def is_vit(self):
        return len(set(self.layer_strides.values())) == 1

    def check_layers(self, layers):
        unknown = [name for name in layers if name not in self.layer_channels]
        if unknown:
            raise InputError(f'Unknown encoder layer(s) {unknown} for {self.model_name}; '
                             f'choose from {list(self.layer_channels)}.')

    def check_text(self, user):
        if not self.has_text:
            raise InputError(f'{user} compares image and text features, and {self.model_name} has no text tower; '
                             "use an open_clip backbone (e.g. 'RN50-quickgelu', 'open_clip:convnext_base_w') for it.")

    def min_size(self, layers=(), embedding=True):
        """The smallest image side giving one position in each of ``layers`` (and the embedding)."""
        embedding_size = max(self.layer_strides.values()) if embedding else 1
        return max([self.layer_strides[name] for name in layers] + [embedding_size])


@lru_cache(maxsize=None)
def timm_feature_levels(timm_model):
    """``[(channels, stride), ...]`` of timm's feature levels, from a weightless (meta-device) build."""
    import timm
    from .timm_weights import build_kwargs
    with torch.device('meta'):
        model = timm.create_model(timm_model, pretrained=False, **build_kwargs(timm_model))
    return tuple((info['num_chs'], info['reduction']) for info in model.feature_info)


def _levels_layout(name, levels, embed_dim, tower, has_text):
    strides = {stride for _, stride in levels}
    prefix = 'block' if len(strides) == 1 else 'stage'
    stages = tuple(f'{prefix}{k}' for k in range(1, len(levels) + 1))
    channels = {stage: c for stage, (c, _) in zip(stages, levels)}
    stride_of = {stage: s for stage, (_, s) in zip(stages, levels)}
    if prefix == 'block':
        defaults = (f'block{len(levels) // 2}', f'block{3 * len(levels) // 4}')
    else:
        defaults = tuple(stage for stage in stages if stride_of[stage] in CNN_DEFAULT_STRIDES) or \
            stages[len(stages) // 2 - 1:len(stages) // 2 + 1]
    return EncoderLayout(name, stages, channels, stride_of, defaults, embed_dim, tower, has_text)


def _open_clip_layout(name, model):
    config = open_clip.get_model_config(model)
    if config is None:
        raise InputError(f"clip_model: unknown CLIP model '{model}'; use a name from open_clip.list_models(), "
                         "e.g. 'RN50-quickgelu', 'ViT-B-16' or 'convnext_base_w'.")
    vision, text = config['vision_cfg'], config.get('text_cfg', {})
    has_text = not text.get('hf_model_name')  # CLIP's own text transformer: the one the prompt pairs drive
    if 'timm_model_name' in vision:
        levels = timm_feature_levels(vision['timm_model_name'])
        if len({stride for _, stride in levels}) == 1:
            raise InputError(f"clip_model: {model}'s image tower is a timm ViT, which open_clip builds for one input "
                             'size; supported: ResNet (RN*), ViT and timm CNN towers (convnext_*).')
        return _levels_layout(name, levels, config['embed_dim'], 'timm', has_text)
    if isinstance(vision['layers'], (list, tuple)):
        channels = {stage: vision['width'] * BOTTLENECK_EXPANSION * 2**i for i, stage in enumerate(RESNET_STAGES)}
        return EncoderLayout(name, RESNET_STAGES, channels, dict(RESNET_STRIDES), RESNET_DEFAULT_LAYERS,
                             config['embed_dim'], 'resnet', has_text)
    levels = [(vision['width'], vision['patch_size'])] * vision['layers']
    return _levels_layout(name, levels, config['embed_dim'], 'vit', has_text)


def encoder_layout(name):
    """The ``EncoderLayout`` of backbone ``name`` (``RN50-quickgelu``, ``open_clip:convnext_base_w``,
    ``timm:vit_small_patch14_dinov2``)."""
    name = backbone_name(name)
    library, model = split_backbone(name)
    if library == OPEN_CLIP:
        return _open_clip_layout(name, model)
    from .timm_weights import check_model
    check_model(model)
    return _levels_layout(name, timm_feature_levels(model), 0, 'timm', has_text=False)
