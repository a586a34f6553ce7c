"""``backbones/layout.py``: what a backbone offers, read from its library's config, equals what the library's built
model gives; the discriminators size themselves from it without building an encoder."""
import open_clip
import pytest
import timm
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
    with pytest.raises(ValueError, match=r"Unknown encoder layer\(s\) \['layer7'\] for RN50-quickgelu"):
        rn.check_layers(['layer7'])
    with pytest.raises(ValueError, match="unknown CLIP model 'RN51'"):
        encoder_layout('RN51')
    with pytest.raises(ValueError,
                       match="ViT-B-16-SigLIP's image tower is a timm ViT, which open_clip builds for one "):
        encoder_layout('ViT-B-16-SigLIP')


def test_featd_and_sed_are_built_without_building_a_clip(monkeypatch):
    from sfd_basicsr.archs import encoder_client, featd_arch, sed_arch
    from sfd_basicsr.backbones import encoder

    def no_clip(*args, **kwargs):
        raise AssertionError('a CLIP was built')

    monkeypatch.setattr(encoder, 'create_backbone', no_clip)
    monkeypatch.setattr(encoder_client, 'get_encoder', no_clip)
    featd = featd_arch.FeatD('RN50x4', pretrained=None, num_feat=8)
    assert featd.project['layer2'].in_channels == 640  # RN50x4: width 80 x 4 x 2
    sed = sed_arch.SeDUNetDiscriminator(clip_model='RN50x4', pretrained=None)
    assert sed is not None


TIMM_FAMILIES = {'vit_small_patch14_dinov2': 'block', 'vit_base_patch14_dinov2': 'block', 'convnext_atto': 'stage',
                 'efficientnet_b0': 'stage'}


def _timm_feature_maps(model, size=224):
    """``[(channels, stride)]`` of every feature level, measured on timm's own feature extractor (random weights)."""
    levels = len(timm.create_model(model, pretrained=False).feature_info)
    built = timm.create_model(model, pretrained=False, features_only=True, out_indices=tuple(range(levels)),
                              **({'img_size': size} if model.startswith('vit') else {})).eval()
    with torch.no_grad():
        return [(out.shape[1], size // out.shape[-1]) for out in built(torch.rand(1, 3, size, size))]


@pytest.mark.parametrize('model', list(TIMM_FAMILIES))
def test_a_timm_layout_is_what_timms_feature_extractor_gives_named_by_family(model):
    layout = encoder_layout(f'timm:{model}')
    levels = _timm_feature_maps(model)
    prefix = TIMM_FAMILIES[model]
    assert layout.stages == tuple(f'{prefix}{k}' for k in range(1, len(levels) + 1))
    assert [(layout.layer_channels[name], layout.layer_strides[name]) for name in layout.stages] == levels
    assert (layout.embed_dim, layout.has_text) == (0, False)


def test_default_layers_of_other_families_follow_clips():
    """ViTs: the blocks at 1/2 and 3/4 depth (as CLIP's ViTs); CNNs: the stride-8 and stride-16 stages (RN50's
    layer2 and layer3), found by stride however many levels a family has."""
    dino, convnext, efficientnet = (encoder_layout(f'timm:{model}') for model in
                                    ('vit_small_patch14_dinov2', 'convnext_atto', 'efficientnet_b0'))
    assert dino.default_layers == ('block6', 'block9') and dino.min_size(('block6', )) == 14
    assert convnext.default_layers == ('stage2', 'stage3')
    assert [efficientnet.layer_strides[name] for name in efficientnet.default_layers] == [8, 16]
    assert efficientnet.default_layers == ('stage3', 'stage4')  # its five levels start at stride 2


def test_clip_convnext_layout_is_what_open_clips_model_gives():
    layout = encoder_layout('convnext_tiny')
    visual = open_clip.create_model('convnext_tiny', pretrained=None).visual.eval()
    found = []
    for stage in visual.trunk.stages:
        stage.register_forward_hook(lambda m, i, out: found.append((out.shape[1], 128 // out.shape[-1])))
    with torch.no_grad():
        embedding = visual(torch.rand(1, 3, 128, 128))
    assert [(layout.layer_channels[name], layout.layer_strides[name]) for name in layout.stages] == found
    assert layout.stages == ('stage1', 'stage2', 'stage3', 'stage4') and layout.embed_dim == embedding.shape[-1]
    assert layout.has_text and layout.default_layers == ('stage2', 'stage3')


def test_backbone_names_pick_their_library_and_refuse_what_is_not_one():
    assert encoder_layout('open_clip:RN50-quickgelu') == encoder_layout('RN50-quickgelu')
    with pytest.raises(ValueError, match="backbone: unknown timm model 'vit_nonesuch'"):
        encoder_layout('timm:vit_nonesuch')
    with pytest.raises(ValueError, match="'pretrained', not in the model name: backbone: timm:convnext_atto, "
                                         "pretrained: d2_in1k"):
        encoder_layout('timm:convnext_atto.d2_in1k')
    with pytest.raises(ValueError, match="'dino:vits14' is not '<library>:<model>'"):
        encoder_layout('dino:vits14')
    with pytest.raises(ValueError, match='TGDiscriminator compares image and text features, and timm:convnext_atto '
                                         'has no text tower'):
        encoder_layout('timm:convnext_atto').check_text('TGDiscriminator')


def test_min_size_without_the_embedding_is_the_coarsest_asked_layers_stride():
    """One position of a layer needs an image as large as its stride (RN50's: 4 and 16, measured above); asked for
    nothing, any image will do."""
    rn = encoder_layout('RN50-quickgelu')
    assert rn.min_size(('layer1', ), embedding=False) == 4
    assert rn.min_size(('layer1', 'layer3'), embedding=False) == 16
    assert rn.min_size((), embedding=False) == 1


@pytest.mark.parametrize('model_name', ['roberta-ViT-B-32', 'xlm-roberta-base-ViT-B-32'])
def test_a_hugging_face_text_tower_is_not_clips_own(model_name):
    """open_clip builds these text towers from a Hugging Face model (their config names it), not from CLIP's text
    transformer that the prompt pairs drive: TG-D must refuse them, Feat-D may read their image tower."""
    assert open_clip.get_model_config(model_name)['text_cfg'].get('hf_model_name')
    layout = encoder_layout(model_name)
    assert not layout.has_text and layout.tower == 'vit'
    with pytest.raises(ValueError, match=f'{model_name} has no text tower'):
        layout.check_text('TGDiscriminator')
