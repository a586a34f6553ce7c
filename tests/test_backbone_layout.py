"""``backbones/layout.py``: what an image tower offers, read from open_clip's config, equals what open_clip's built model
gives; the discriminators size themselves from it without building a CLIP."""
import open_clip
import pytest
import torch

from sfd_basicsr.backbones.layout import encoder_layout


def _open_clip_feature_maps(model_name):
    """``{layer: (channels, stride)}`` measured on open_clip's own image tower with forward hooks."""
    model = open_clip.create_model(model_name, pretrained=None).visual.eval()
    size = open_clip.get_model_config(model_name)['vision_cfg']['image_size']  # the attention pool's own size
    found, hooks = {}, []
    if hasattr(model, 'layer1'):
        for name in ('layer1', 'layer2', 'layer3', 'layer4'):
            hooks.append(getattr(model, name).register_forward_hook(
                lambda m, i, out, name=name: found.__setitem__(name, (out.shape[1], size // out.shape[-1]))))
    else:
        patch = model.conv1.stride[0]  # the patch embedding's stride is the token grid's
        for k, block in enumerate(model.transformer.resblocks, 1):
            hooks.append(block.register_forward_hook(
                lambda m, i, out, k=k: found.__setitem__(f'block{k}', (out.shape[-1], patch))))
    with torch.no_grad():
        embedding = model(torch.rand(1, 3, size, size))
    for hook in hooks:
        hook.remove()
    return found, embedding.shape[-1]


@pytest.mark.parametrize('model_name', ['RN50-quickgelu', 'RN50x4', 'ViT-B-32'])
def test_the_layout_is_what_open_clips_model_gives(model_name):
    layout = encoder_layout(model_name)
    maps, embed_dim = _open_clip_feature_maps(model_name)
    assert {name: (layout.layer_channels[name], layout.layer_strides[name]) for name in layout.stages} == maps
    assert layout.embed_dim == embed_dim


def test_default_layers_min_size_and_refusals():
    rn, vit = encoder_layout('RN50-quickgelu'), encoder_layout('ViT-B-16')
    assert (rn.default_layers, vit.default_layers) == (('layer2', 'layer3'), ('block6', 'block9'))
    assert rn.min_size(('layer2',), embedding=False) == 8 and rn.min_size() == 32 and vit.min_size() == 16
    with pytest.raises(ValueError, match=r"Unknown encoder layer\(s\) \['layer7'\] for CLIP RN50-quickgelu"):
        rn.check_layers(['layer7'])
    with pytest.raises(ValueError, match="unknown CLIP model 'RN51'"):
        encoder_layout('RN51')
    with pytest.raises(ValueError, match="'convnext_base' has a timm image tower"):
        encoder_layout('convnext_base')


def test_featd_and_sed_are_built_without_building_a_clip(monkeypatch):
    from sfd_basicsr.archs import encoder_client, featd_arch, sed_arch
    from sfd_basicsr.backbones import encoder

    def no_clip(*args, **kwargs):
        raise AssertionError('a CLIP was built')

    monkeypatch.setattr(encoder, 'create_backbone', no_clip)
    monkeypatch.setattr(encoder_client, 'get_encoder', no_clip)
    featd = featd_arch.FeatD('RN50x4', pretrained=None, num_feat=8)
    assert featd.project['layer2'].weight.shape[1] == 640  # RN50x4: width 80 x 4 x 2
    sed = sed_arch.SeDUNetDiscriminator(clip_model='RN50x4', pretrained=None)
    assert sed is not None
