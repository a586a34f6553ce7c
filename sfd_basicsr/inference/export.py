"""``basicsr export``: a trained generator as one ``.safetensors`` file that spandrel (and chaiNNer) load."""
import os

import torch

from ..utils.atomic import atomic_write_bytes, check_writable_folder
from .generator import GeneratorLoadError, generator_from_state_dict, load_generator

SPANDREL_RRDB_GROWTH = 32  # spandrel rebuilds every RRDBNet with ESRGAN's growth channels

CHECK_SIZE = 32  # input side of the round-trip check


def export_safetensors(model, output):
    """Write ``model``'s generator weights (``params_ema`` when present) to ``output``; return the LoadedGenerator.

    The file is checked before it replaces ``output``: spandrel must recognise it and reproduce the
    generator's output on a random image.
    """
    from safetensors.torch import load, save
    check_writable_folder(os.path.dirname(os.path.abspath(output)) or '.', '-o')
    generator = load_generator(model)
    _check_spandrel_can_rebuild(generator)
    tensors = {key: value.detach().cpu().contiguous().clone() for key, value in generator.module.state_dict().items()
               if value.is_floating_point() or value.dtype in (torch.int64, torch.int32, torch.uint8)}
    data = save(tensors, metadata={'scale': str(generator.scale), 'source': generator.source,
                                   'exported_by': 'sfd_basicsr'})
    reloaded = generator_from_state_dict(load(data), output)
    if reloaded.scale != generator.scale:
        raise GeneratorLoadError(f'spandrel reads the exported file as x{reloaded.scale}, not x{generator.scale}.')
    seeded = torch.Generator().manual_seed(0)
    probe = torch.rand(1, generator.input_channels, CHECK_SIZE, CHECK_SIZE, generator=seeded)
    with torch.inference_mode():
        difference = (reloaded.module(probe) - generator.module(probe)).abs().max().item()
    if difference > 1e-4:
        raise GeneratorLoadError(f'spandrel rebuilds a different network from the export (max difference '
                                 f'{difference:.2e}); this architecture cannot be exported for spandrel.')
    atomic_write_bytes(output, data)
    return generator


def _check_spandrel_can_rebuild(generator):
    """Refuse, with the option to change, a BasicSR RRDBNet that spandrel would rebuild with other shapes."""
    from basicsr.archs.rrdbnet_arch import RRDBNet
    net = generator.module
    if isinstance(net, RRDBNet):
        growth = net.body[0].rdb1.conv1.out_channels
        if growth != SPANDREL_RRDB_GROWTH:
            raise GeneratorLoadError(
                f'{generator.source}: network_g.num_grow_ch is {growth}, but spandrel (and chaiNNer) rebuild '
                f'RRDBNet with num_grow_ch {SPANDREL_RRDB_GROWTH} (ESRGAN\'s), so the export could not be loaded '
                f'there. Train with num_grow_ch: {SPANDREL_RRDB_GROWTH} to export; `basicsr upscale -m` reads this '
                'generator as it is.')
