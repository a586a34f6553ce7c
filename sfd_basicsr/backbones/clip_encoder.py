"""A frozen open_clip model as the shared encoder: its image tower (ResNet, ViT or a timm CNN such as ConvNeXt) for
middle layers and the embedding in one pass, and its text tower for the learnable prompt pairs."""
import open_clip
import torch
import torch.nn.functional as F
from open_clip.transformer import text_global_pool
from torch import nn

from .encoder import FrozenEncoder, maps_by_layer
from .layout import RESNET_STAGES


def resize_positional_embedding(pos, height, width):
    """``(1 + S*S, C)`` positional embedding (class token first) bicubically resized to ``height x width``."""
    side = int(round((pos.shape[0] - 1)**0.5))
    if (height, width) == (side, side):
        return pos
    channels = pos.shape[1]
    grid = pos[1:].reshape(1, side, side, channels).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(height, width), mode='bicubic', align_corners=False)
    return torch.cat([pos[:1], grid.reshape(channels, height * width).t()], dim=0)


class FrozenCLIPEncoder(FrozenEncoder):
    """An open_clip model that never trains (``FrozenEncoder``), plus the text tower for prompts."""

    def __init__(self, model_name, pretrained):
        super().__init__(model_name, pretrained)
        self.clip = self.network
        self.is_vit = self.layout.tower == 'vit'

    def features(self, x, layers, embedding):
        tower = self.layout.tower
        if tower == 'vit':
            return self._vit_features(x, layers, embedding)
        if tower == 'timm':
            return self._timm_features(x, layers, embedding)
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

    def _timm_features(self, x, layers, embedding):
        visual = self.clip.visual
        indices = [self.stages.index(name) for name in layers]
        if not indices:
            return {'embedding': visual(x)}
        final, maps = visual.trunk.forward_intermediates(x, indices=indices, stop_early=not embedding)
        features = maps_by_layer(layers, indices, maps)
        if embedding:
            features['embedding'] = visual.head(visual.trunk.forward_head(final))
        return features

    def _vit_features(self, x, layers, embedding):
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
        grids = [y[:, 1:].transpose(1, 2).reshape(b, c, h, w) for y in intermediates]
        features = maps_by_layer(layers, indices, grids)
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
