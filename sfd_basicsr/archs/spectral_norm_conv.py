"""A spectral-normalised convolution that divides whichever is smaller, the weight or the output, by sigma.

``torch.nn.utils.spectral_norm`` divides the weight by its largest singular value before every forward. On a
discriminator head that reads small feature maps (Feat-D: 8 x 8 positions on the CPU preset) the weight is far
larger than the output, and dividing it, with the backward of that division, is most of the head's cost
(docs/benchmarks.md, "Backbones and DiffAugment"). Since ``conv(x, W / sigma) = conv(x, W) / sigma`` for a
convolution without bias, the same function is computed by dividing the output when it is the smaller tensor.
"""
import torch
import torch.nn.functional as F
from torch import nn


def conv_output_numel(input_shape, out_channels, kernel_size, stride, padding):
    """Elements of ``conv2d``'s output for an input of ``input_shape`` ``(B, C, H, W)`` (no dilation)."""
    batch, _, *sides = input_shape
    out = [(side + 2 * p - k) // s + 1 for side, k, s, p in zip(sides, kernel_size, stride, padding)]
    return batch * out_channels * out[0] * out[1]


class SpectralNormConv2d(nn.Conv2d):
    """``spectral_norm(nn.Conv2d(...))`` with the same initialisation, parameters (in the same order, so an
    optimiser's saved state still fits), buffers, state-dict keys (``bias``, ``weight_orig``, ``weight_u``,
    ``weight_v``) and power iteration (one per forward in training mode, none in eval mode); only the side divided
    by sigma differs, chosen per call by size. It has no ``weight``: the normalised weight is never materialised
    when the output is divided.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, eps=1e-12):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias=bias)
        self.eps = eps
        weight = self._parameters.pop('weight')
        # torch's spectral_norm re-registers the weight after the bias: the same order keeps optimiser states valid
        self.register_parameter('weight_orig', weight)
        with torch.no_grad():  # drawn as torch's spectral_norm draws them, so a seed gives the same vectors
            u = F.normalize(weight.new_empty(out_channels).normal_(0, 1), dim=0, eps=eps)
            v = F.normalize(weight.new_empty(weight[0].numel()).normal_(0, 1), dim=0, eps=eps)
        self.register_buffer('weight_u', u)
        self.register_buffer('weight_v', v)

    def sigma(self):
        """The weight's largest singular value, after one power iteration in training mode (as spectral_norm)."""
        matrix = self.weight_orig.flatten(1)
        u, v = self.weight_u, self.weight_v
        if self.training:
            with torch.no_grad():  # in place, so the buffers (and DataParallel's replicas) keep the update
                v = F.normalize(torch.mv(matrix.t(), u), dim=0, eps=self.eps, out=v)
                u = F.normalize(torch.mv(matrix, v), dim=0, eps=self.eps, out=u)
            # later forwards update the buffers in place; this forward's backward needs today's values
            u, v = u.clone(memory_format=torch.contiguous_format), v.clone(memory_format=torch.contiguous_format)
        return torch.dot(u, torch.mv(matrix, v))

    def forward(self, x):
        sigma = self.sigma()
        output_numel = conv_output_numel(x.shape, self.out_channels, self.kernel_size, self.stride, self.padding)
        if output_numel >= self.weight_orig.numel():
            return self._conv_forward(x, self.weight_orig / sigma, self.bias)
        out = self._conv_forward(x, self.weight_orig, None) / sigma
        # under autocast the output is in reduced precision, as the convolution's own bias would be
        return out if self.bias is None else out + self.bias.to(out.dtype).view(1, -1, 1, 1)
