"""The frozen CLIP encoder that every SFD module shares (docs/method.md, "Our decisions").

``get_clip_encoder(name, pretrained, device)`` returns one ``FrozenCLIPEncoder`` per process and per
(name, weights, device). Discriminators look it up on every forward instead of owning it
(``archs.encoder_client``), so the encoder never enters their ``state_dict``, optimiser, ``.to()`` or DDP
wrapper, and is never put back into training mode by ``net_d.train()``.
"""
import open_clip
import torch
import torch.nn.functional as F
from open_clip.modified_resnet import ModifiedResNet
from open_clip.transformer import VisionTransformer, text_global_pool
from torch import nn

from ..utils.errors import InputError
from ..utils.image_io import check_min_side
from ..utils.process_cache import ProcessCache
from .layout import RESNET_DEFAULT_LAYERS, RESNET_STAGES, encoder_layout
from .weights import DEFAULT_CLIP_MODEL, DEFAULT_PRETRAINED, create_clip, weights_key

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _device_key(device):
    device = torch.device(device)
    if device.type == 'cuda' and device.index is None:
        device = torch.device('cuda', torch.cuda.current_device())
    return str(device)


def resize_positional_embedding(pos, height, width):
    """``(1 + S*S, C)`` positional embedding (class token first) bicubically resized to ``height x width``."""
    side = int(round((pos.shape[0] - 1)**0.5))
    if (height, width) == (side, side):
        return pos
    channels = pos.shape[1]
    grid = pos[1:].reshape(1, side, side, channels).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(height, width), mode='bicubic', align_corners=False)
    return torch.cat([pos[:1], grid.reshape(channels, height * width).t()], dim=0)


class FrozenCLIPEncoder(nn.Module):
    """A CLIP model that never trains: image features from one pass, plus the text tower for prompts.

    Images are RGB in [0, 1], any size of at least ``min_size(...)`` pixels per side.
    """

    def __init__(self, model_name=DEFAULT_CLIP_MODEL, pretrained=DEFAULT_PRETRAINED):
        super().__init__()
        self.model_name = model_name
        self.pretrained = pretrained
        self.clip = create_clip(model_name, pretrained)
        visual = self.clip.visual
        self.is_vit = isinstance(visual, VisionTransformer)
        if not (self.is_vit or isinstance(visual, ModifiedResNet)):
            raise NotImplementedError(f"CLIP '{model_name}' has a {type(visual).__name__} image tower; "
                                      'supported: ResNet (RN*) and ViT towers.')
        self.clip.requires_grad_(False)
        self.register_buffer('mean', torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)
        self.layout = encoder_layout(model_name)
        self.stages, self.default_layers = self.layout.stages, self.layout.default_layers
        self.layer_channels, self.layer_strides = self.layout.layer_channels, self.layout.layer_strides
        self.embed_dim = self.layout.embed_dim
        self.eval()

    def train(self, mode=True):
        """Stays in eval mode whatever is asked: BatchNorm must keep CLIP's running statistics."""
        return super().train(False)

    def check_layers(self, layers):
        self.layout.check_layers(layers)

    def min_size(self, layers=(), embedding=True):
        return self.layout.min_size(layers, embedding)

    def forward(self, image, layers=RESNET_DEFAULT_LAYERS, embedding=True):
        """Return ``{layer: map, ..., 'embedding': (B, embed_dim)}`` from a single pass over ``image``."""
        self.check_layers(layers)
        if image.dim() != 4 or image.shape[1] != 3:
            raise InputError(f'The CLIP encoder expects RGB images shaped (B, 3, H, W); got {tuple(image.shape)}.')
        check_min_side(image.shape, self.min_size(layers, embedding), f'CLIP {self.model_name} (these features)')
        x = (image - self.mean) / self.std
        if self.is_vit:
            return self._vit_forward(x, layers, embedding)
        visual = self.clip.visual
        x = visual.stem(x)
        last = 'layer4' if embedding else max(layers, key=RESNET_STAGES.index)
        features = {}
        for name in RESNET_STAGES[:RESNET_STAGES.index(last) + 1]:
            x = getattr(visual, name)(x)
            if name in layers:
                features[name] = x
        if embedding:
            features['embedding'] = self.attention_pool(x)
        return features

    def _vit_forward(self, x, layers, embedding):
        visual = self.clip.visual
        x = visual.conv1(x)
        b, c, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([visual.class_embedding.to(x.dtype).expand(b, 1, c), x], dim=1)
        x = visual.ln_pre(visual.patch_dropout(x + resize_positional_embedding(visual.positional_embedding, h, w)))
        indices = [self.stages.index(name) for name in layers]
        if indices:
            x, intermediates = visual.transformer.forward_intermediates(x, indices=indices, stop_early=not embedding)
        else:
            x, intermediates = visual.transformer(x), []
        features = {name: y[:, 1:].transpose(1, 2).reshape(b, c, h, w) for name, y in zip(layers, intermediates)}
        if embedding:
            pooled, _ = visual._pool(x)
            features['embedding'] = pooled @ visual.proj if visual.proj is not None else pooled
        return features

    def attention_pool(self, x):
        """CLIP's attention pooling with its positional embedding resized to the feature grid of ``x``."""
        pool = self.clip.visual.attnpool
        b, c, h, w = x.shape
        pos = resize_positional_embedding(pool.positional_embedding, h, w)
        tokens = x.flatten(2).permute(2, 0, 1)
        tokens = torch.cat([tokens.mean(dim=0, keepdim=True), tokens], dim=0) + pos[:, None, :].to(x.dtype)
        out, _ = F.multi_head_attention_forward(
            query=tokens[:1], key=tokens, value=tokens, embed_dim_to_check=c, num_heads=pool.num_heads,
            q_proj_weight=pool.q_proj.weight, k_proj_weight=pool.k_proj.weight, v_proj_weight=pool.v_proj.weight,
            in_proj_weight=None, in_proj_bias=torch.cat([pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]),
            bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0., out_proj_weight=pool.c_proj.weight,
            out_proj_bias=pool.c_proj.bias, use_separate_proj_weight=True, training=False, need_weights=False)
        return out[0]

    # text side, used by the learnable prompt pairs
    @property
    def logit_scale(self):
        return self.clip.logit_scale.exp()

    def tokenizer(self):
        return open_clip.get_tokenizer(self.model_name)

    def embed_tokens(self, token_ids):
        return self.clip.token_embedding(token_ids)

    def encode_token_embeddings(self, embeddings, token_ids):
        """Text features for prompts given as token embeddings ``(N, L, D)`` and their ids ``(N, L)``.

        ``L`` may be shorter than CLIP's context: the causal mask means the pooled end-of-text token
        sees only the tokens before it, so the padding after it would change nothing.
        """
        clip = self.clip
        length = embeddings.shape[1]
        x = embeddings + clip.positional_embedding[:length].to(embeddings.dtype)
        x = clip.transformer(x, attn_mask=clip.attn_mask[:length, :length])
        x = clip.ln_final(x)
        x = text_global_pool(x, token_ids, clip.text_pool_type, eos_token_id=getattr(clip, 'text_eos_id', None))
        if isinstance(clip.text_projection, nn.Linear):
            return clip.text_projection(x)
        return x @ clip.text_projection


_ENCODERS = ProcessCache()


def get_clip_encoder(model_name=DEFAULT_CLIP_MODEL, pretrained=DEFAULT_PRETRAINED, device='cpu'):
    """The process-wide encoder for (model_name, pretrained, device), built on first request."""
    key = (model_name, weights_key(pretrained), _device_key(device))
    return _ENCODERS.get(key, lambda: FrozenCLIPEncoder(model_name, pretrained).to(key[2]))
