"""TG-D: text-guided discrimination of CLIP's output feature with learnable prompt pairs.

Choices not from the paper: docs/method.md, "Our decisions".
"""
import torch
import torch.nn.functional as F
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

from ..backbones.names import DEFAULT_PRETRAINED
from ..compat.registry import register
from ..utils.errors import InputError
from .encoder_client import EncoderClient

DEFAULT_PROMPT_PAIRS = (('Good photo.', 'Bad photo.'), )
CONTEXT_INIT_STD = 0.02  # CoOp's random context initialisation


class LearnablePromptPairs(nn.Module):
    """CoOp-style prompts: ``[SOS] ctx_1 .. ctx_n [EOS]``, every prompt of every pair with its own context.

    Each prompt's last context vectors start as the token embeddings of its init text (``"Good photo."``
    -> ``good``, ``photo``, ``.``); the ones before them start CoOp-random. ``ctx`` is ``(P, 2, n_ctx, D)``:
    pair, (positive, negative), position, token width. The text transformer itself stays frozen.
    """

    def __init__(self, encoder, prompt_pairs=DEFAULT_PROMPT_PAIRS, n_ctx=16):
        super().__init__()
        if not prompt_pairs or any(len(pair) != 2 for pair in prompt_pairs):
            raise InputError("Option 'prompt_pairs' must be a non-empty list of [positive, negative] texts; "
                             f'got {prompt_pairs}.')
        tokenizer = encoder.tokenizer()
        width = encoder.clip.token_embedding.weight.shape[1]
        contexts = []
        for text in [text for pair in prompt_pairs for text in pair]:
            words = tokenizer.encode(text)
            if len(words) > n_ctx:
                raise InputError(f"Prompt '{text}' has {len(words)} tokens, more than n_ctx={n_ctx}.")
            context = torch.randn(n_ctx, width) * CONTEXT_INIT_STD
            if words:
                with torch.no_grad():
                    context[n_ctx - len(words):] = encoder.embed_tokens(torch.tensor(words, device='cpu'))
            contexts.append(context)
        self.prompt_pairs = [list(pair) for pair in prompt_pairs]
        self.ctx = nn.Parameter(torch.stack(contexts).view(len(prompt_pairs), 2, n_ctx, width))
        token_ids = torch.zeros(n_ctx + 2, dtype=torch.long)
        token_ids[0], token_ids[-1] = tokenizer.sot_token_id, tokenizer.eot_token_id
        self.register_buffer('token_ids', token_ids, persistent=False)

    def forward(self, encoder):
        """Unit-norm text features ``(P, 2, E)``."""
        pairs, _, n_ctx, width = self.ctx.shape
        ids = self.token_ids.expand(pairs * 2, n_ctx + 2)
        ends = encoder.embed_tokens(ids[:, [0, -1]]).to(self.ctx.dtype)
        tokens = torch.cat([ends[:, :1], self.ctx.reshape(pairs * 2, n_ctx, width), ends[:, 1:]], dim=1)
        features = encoder.encode_token_embeddings(tokens, ids)
        return F.normalize(features, dim=-1).view(pairs, 2, -1)


@register(ARCH_REGISTRY)
class TGDiscriminator(EncoderClient):
    """Realness logits ``s * (cos(v, t+) - cos(v, t-))``, one per image and prompt pair: ``(B, P)``.

    ``v`` is CLIP's output embedding of the image, ``t+ / t-`` the text features of a learnable prompt
    pair and ``s`` CLIP's logit scale, so each logit is the log-odds of the softmax over its pair.

    Args:
        clip_model, pretrained, backbone: the frozen encoder, as ``FeatD``'s; it needs a text tower (open_clip).
        prompt_pairs (list[list[str]]): init texts, ``[[positive, negative], ...]``.
        n_ctx (int): learnable context vectors per prompt.
    """

    needs_text_tower = True  # read by the options check

    def __init__(self, clip_model=None, pretrained=DEFAULT_PRETRAINED, prompt_pairs=DEFAULT_PROMPT_PAIRS, n_ctx=16,
                 backbone=None):
        super().__init__(clip_model, pretrained, backbone)
        self.layout.check_text('TGDiscriminator')
        encoder = self.encoder('cpu')
        self.min_size = encoder.min_size(embedding=True)
        self.prompts = LearnablePromptPairs(encoder, prompt_pairs, n_ctx)
        self.register_buffer('text_cache', torch.zeros(len(prompt_pairs), 2, encoder.embed_dim))
        self._text_ctx = None  # the prompts text_cache was computed from
        self._has_text = False  # tracked here, not read off the buffer: that would sync the GPU every step

    def extract(self, img):
        """The encoder's output embedding of ``img``, for ``forward(embedding=...)``."""
        return self.encoder(img.device)(img, layers=(), embedding=True)['embedding']

    def _prompts_unchanged(self):
        """Whether the prompts are still those of ``text_cache``, compared by value: fused optimisers (``fused: true``,
        as our options files ask) update a parameter without bumping its version counter."""
        ctx, cached = self.prompts.ctx, self._text_ctx
        return cached is not None and cached.device == ctx.device and torch.equal(cached, ctx.detach())

    def has_text_features(self):
        """Whether ``text_cache`` holds features, computed here or loaded from a checkpoint."""
        return self._has_text

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        loaded = state_dict.get(prefix + 'text_cache')
        if loaded is not None:  # a fresh checkpoint's cache is all zeros, real features are unit vectors
            self._has_text = bool(loaded.abs().sum() > 0)

    def text_features(self, allow_stale=False):
        """Prompt-pair text features ``(P, 2, E)``, recomputed only when the prompts changed.

        With gradients to the prompts wanted (discriminator step) they are always recomputed. The last
        result is kept in the ``text_cache`` buffer, which checkpoints carry. ``allow_stale=True`` returns
        it even if the prompts were updated since: SFDModel's generator step reads the features of the
        latest discriminator step, so the text tower runs once per iteration (docs/method.md).
        """
        wants_grad = torch.is_grad_enabled() and self.prompts.ctx.requires_grad
        # allow_stale first: the generator step then never compares (a GPU sync)
        if not wants_grad and ((allow_stale and self.has_text_features()) or self._prompts_unchanged()):
            return self.text_cache
        features = self.prompts(self.encoder(self.prompts.ctx.device))
        with torch.no_grad():
            self.text_cache.copy_(features)
        self._text_ctx, self._has_text = self.prompts.ctx.detach().clone(), True
        return features if features.requires_grad else self.text_cache

    def forward(self, img=None, embedding=None, text_features=None):
        """``(B, P)`` logits from an RGB image in [0, 1] or a precomputed output embedding."""
        if embedding is None:
            if img is None:
                raise InputError('TGDiscriminator needs an image or a precomputed encoder embedding.')
            embedding = self.extract(img)
        if text_features is None:
            text_features = self.text_features()
        image_features = F.normalize(embedding, dim=-1)
        cosines = torch.einsum('be,pke->bpk', image_features, text_features.to(image_features.dtype))
        return self.encoder(embedding.device).logit_scale * (cosines[..., 0] - cosines[..., 1])
