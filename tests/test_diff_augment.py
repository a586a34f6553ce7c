"""DiffAugment's transforms against values worked out by hand, one draw for real and fake, gradients through it, and
ADA's probability (models/diff_augment.py)."""
import dataclasses
import textwrap

import pytest
import torch

from helpers.training import torchrun
from sfd_basicsr.models.diff_augment import (POLICIES, Augmentation, DiffAugment, DiffAugmentTraining, augment,
                                             draw_augmentation)


def ones(batch):
    return torch.ones(batch, dtype=torch.bool)


def only(batch=1, **values):
    """An augmentation of every sample with just ``values``: the colour factors neutral unless given."""
    if 'brightness' in values or 'saturation' in values or 'contrast' in values:
        values = {'brightness': torch.zeros(batch), 'saturation': torch.ones(batch), 'contrast': torch.ones(batch),
                  **values}
    return Augmentation(applied=ones(batch), **values)


def test_colour_is_brightness_then_saturation_then_contrast_worked_by_hand():
    pixel = torch.tensor([0.25, 0.5, 0.75]).view(1, 3, 1, 1)
    # in the reference's [-1, 1]: (-0.5, 0, 0.5); +0.25 -> (-0.25, 0.25, 0.75); saturation 0.5 around the channel
    # mean 0.25 -> (0, 0.25, 0.5); contrast 2 around the image mean 0.25 -> (-0.25, 0.25, 0.75); in [0, 1]:
    # (0.375, 0.625, 0.875)
    out = augment(pixel, only(brightness=torch.tensor([0.25]), saturation=torch.tensor([0.5]),
                              contrast=torch.tensor([2.0])))
    assert out.flatten().tolist() == [0.375, 0.625, 0.875]


def test_brightness_adds_the_drawn_value_on_the_references_range():
    drawn = draw_augmentation(4, 8, 8, 1.0, ['color'], 'cpu')
    neutral = dataclasses.replace(drawn, saturation=torch.ones(4), contrast=torch.ones(4))
    images = torch.full((4, 3, 8, 8), 0.5)  # grey: the saturation and contrast means are the pixel itself
    # the reference adds it to images in [-1, 1]: half of it on ours, in [0, 1]
    torch.testing.assert_close(augment(images, neutral), images + drawn.brightness.view(4, 1, 1, 1) / 2)


def shifted_by_hand(image, rows, columns):
    """Output pixel (i, j) is input pixel (i + rows, j + columns), mid-grey outside (the reference's 0 in [-1, 1]):
    the reference's translation."""
    out = torch.full_like(image, 0.5)
    height, width = image.shape[-2:]
    for i in range(height):
        for j in range(width):
            if 0 <= i + rows < height and 0 <= j + columns < width:
                out[..., i, j] = image[..., i + rows, j + columns]
    return out


def test_translation_of_a_known_image_by_a_known_shift():
    image = torch.arange(1.0, 10.0).view(1, 1, 3, 3)  # 1 2 3 / 4 5 6 / 7 8 9
    out = augment(image, only(shift=torch.tensor([[1, -1]])))
    assert out[0, 0].tolist() == [[0.5, 4, 5], [0.5, 7, 8], [0.5, 0.5, 0.5]]


def test_translation_shifts_each_sample_by_its_own_amount():
    images = torch.rand(4, 3, 5, 6)
    shifts = torch.tensor([[0, 0], [2, -3], [-1, 1], [-2, 2]])
    out = augment(images, only(4, shift=shifts))
    for k, (rows, columns) in enumerate(shifts.tolist()):
        torch.testing.assert_close(out[k], shifted_by_hand(images[k], rows, columns))


@pytest.mark.parametrize('centre, rows, columns', [((3, 6), (1, 5), (4, 8)), ((0, 0), (0, 2), (0, 2)),
                                                   ((8, 8), (6, 8), (6, 8))])
def test_cutout_greys_exactly_the_hand_computed_square(centre, rows, columns):
    # 8 x 8: a side of 4 (half), starting 2 (half of 4) before the centre, clipped at the edges; the reference's 0 in
    # [-1, 1] is mid-grey in [0, 1]
    out = augment(torch.ones(1, 3, 8, 8), only(cutout_centre=torch.tensor([centre])))
    expected = torch.ones(1, 3, 8, 8)
    expected[..., rows[0]:rows[1], columns[0]:columns[1]] = 0.5
    assert torch.equal(out, expected)


@pytest.mark.parametrize('layout', [torch.contiguous_format, torch.channels_last])
def test_the_output_keeps_the_inputs_memory_layout(layout):
    images = torch.rand(2, 3, 16, 16).contiguous(memory_format=layout)
    out = augment(images, draw_augmentation(2, 16, 16, 1.0, POLICIES, 'cpu'))
    assert out.is_contiguous(memory_format=layout)


def test_drawn_values_stay_in_the_reference_ranges():
    torch.manual_seed(0)
    drawn = draw_augmentation(4000, 64, 48, 1.0, POLICIES, 'cpu')
    for values, low, high in ((drawn.brightness, -0.5, 0.5), (drawn.saturation, 0, 2), (drawn.contrast, 0.5, 1.5)):
        assert low <= values.min() < low + 0.01 and high - 0.01 < values.max() < high
    # shifts up to 1/8 of each side (64 -> 8, 48 -> 6); cutout sides 32 and 24 (even: the centre reaches the side)
    assert drawn.shift[:, 0].min() == -8 and drawn.shift[:, 0].max() == 8
    assert drawn.shift[:, 1].min() == -6 and drawn.shift[:, 1].max() == 6
    assert drawn.cutout_centre.min() == 0 and drawn.cutout_centre[:, 0].max() == 64
    assert drawn.cutout_centre[:, 1].max() == 48
    odd = draw_augmentation(4000, 7, 7, 1.0, ['cutout'], 'cpu')  # side int(3.5 + 0.5) = 4, even: up to 7
    assert odd.cutout_centre.max() == 7
    odd = draw_augmentation(4000, 5, 5, 1.0, ['cutout'], 'cpu')  # side int(2.5 + 0.5) = 3, odd: up to 4
    assert odd.cutout_centre.max() == 4


def test_the_policy_decides_what_is_drawn_and_applied():
    drawn = draw_augmentation(2, 8, 8, 1.0, ['cutout'], 'cpu')
    assert drawn.brightness is drawn.shift is None and drawn.cutout_centre is not None
    assert DiffAugment(['cutout', 'color'], 1.0).policy == ('color', 'cutout')  # the reference's order


def test_probability_zero_is_the_identity_and_one_always_applies():
    torch.manual_seed(0)
    images = torch.rand(64, 3, 16, 16)
    never = draw_augmentation(64, 16, 16, 0.0, POLICIES, 'cpu')
    assert not never.applied.any() and torch.equal(augment(images, never), images)
    assert DiffAugment(POLICIES, 0.0).draw(images) is None and augment(images, None) is images
    always = draw_augmentation(64, 16, 16, 1.0, POLICIES, 'cpu')
    changed = (augment(images, always) != images).flatten(1).any(1)
    assert always.applied.all() and changed.all()
    sometimes = draw_augmentation(4000, 16, 16, 0.25, POLICIES, 'cpu')
    assert 0.22 < sometimes.applied.float().mean() < 0.28


def test_one_draw_gives_real_and_fake_the_same_transform():
    torch.manual_seed(0)
    drawn = draw_augmentation(3, 16, 16, 0.5, POLICIES, 'cpu')
    real, fake = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    assert torch.equal(augment(real, drawn), augment(real.clone(), drawn))
    for k in range(3):  # sample k of each batch gets sample k's transform, whatever the rest of its batch holds
        alone = Augmentation(**{name: None if value is None else value[k:k + 1]
                                for name, value in dataclasses.asdict(drawn).items()})
        for images in (real, fake):
            assert torch.equal(augment(images, drawn)[k:k + 1], augment(images[k:k + 1], alone))


@pytest.mark.parametrize('policy', [['color'], ['translation'], ['cutout'], list(POLICIES)])
def test_the_gradient_reaches_the_generator_through_the_augmentation(policy):
    torch.manual_seed(0)
    generator = torch.nn.Conv2d(3, 3, 3, padding=1)
    drawn = draw_augmentation(2, 16, 16, 1.0, policy, 'cpu')
    augment(generator(torch.rand(2, 3, 16, 16)), drawn).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in generator.parameters())


def fed(augmenter, signs, iterations, start=1, batch=4):
    """Real logits of ``signs`` (per image, one logit each) in ``iterations`` iterations from ``start`` on."""
    for it in range(start, start + iterations):
        augmenter.observe(torch.tensor(signs, dtype=torch.float).view(batch, 1, 1, 1))
        augmenter.iteration_done(it)


@pytest.mark.parametrize('signs, expected', [
    ([1, 1, 1, 1], 0.58),  # r_t = 1 > 0.6: p + 2 iterations x 4 images / 100
    ([1, 1, -1, 1], 0.42),  # r_t = 0.5 < 0.6: down by the same step
    ([1, 1, 1, 0.0], 0.58),  # a logit of exactly 0 counts 0: r_t = 0.75
    ([2.5, -0.1, 3, 1e-3], 0.42),  # signs, not values: r_t = 0.5
])
def test_ada_moves_p_by_the_hand_computed_step(signs, expected):
    augmenter = DiffAugment(POLICIES, 0.5, target=0.6, interval=2, ramp_images=100)
    fed(augmenter, signs, 1)
    assert augmenter.probability == 0.5  # only every `interval` iterations
    fed(augmenter, signs, 1, start=2)
    assert augmenter.probability == pytest.approx(expected)


def test_ada_keeps_p_between_0_and_1():
    up = DiffAugment(POLICIES, 0.95, target=0.6, interval=1, ramp_images=10)
    fed(up, [1, 1, 1, 1], 1)
    down = DiffAugment(POLICIES, 0.05, target=0.6, interval=1, ramp_images=10)
    fed(down, [-1, -1, -1, -1], 1)
    assert (up.probability, down.probability) == (1.0, 0.0)


def test_a_fixed_probability_never_moves():
    fixed = DiffAugment(POLICIES, 0.5, interval=1)
    fed(fixed, [1, 1, 1, 1], 4)
    assert fixed.probability == 0.5 and not fixed.adaptive


def test_a_resumed_rank_0_takes_back_every_sum_and_the_others_none():
    saved = DiffAugment(POLICIES, 0.5, target=0.6, interval=4, ramp_images=100)
    fed(saved, [1, -1, 1, 1], 3)  # mid-interval: three iterations' sums wait for the fourth
    state = saved.state_dict()
    assert state == {'probability': 0.5, 'signs': 6.0, 'logits': 12, 'images': 12}
    rank0, rank1 = (DiffAugment(POLICIES, 0.0, target=0.6, interval=4, ramp_images=100) for _ in range(2))
    rank0.load_state_dict(state, rank=0)
    rank1.load_state_dict(state, rank=1)
    assert rank0.state_dict() == state and rank1.state_dict() == {**state, 'signs': 0.0, 'logits': 0, 'images': 0}
    for augmenter in (saved, rank0):
        augmenter.observe(torch.ones(4, 1, 1, 1))
        augmenter.iteration_done(4)
    assert rank0.probability == saved.probability == pytest.approx(0.5 + 16 / 100)


TWO_RANKS = textwrap.dedent('''
    import sys
    import torch
    import torch.distributed as dist
    from sfd_basicsr.models.diff_augment import POLICIES, DiffAugment
    dist.init_process_group('gloo')
    rank = dist.get_rank()
    augmenter = DiffAugment(POLICIES, 0.5, target=0.6, interval=2, ramp_images=100)
    signs = [1.0, 1.0, 1.0] if rank == 0 else [-1.0, -1.0, -1.0, -1.0, -1.0]  # batches of 3 and 5
    for it in (1, 2):
        augmenter.observe(torch.tensor(signs).view(-1, 1))
        augmenter.iteration_done(it)
    with open(f'{sys.argv[1]}/rank{rank}.txt', 'w') as f:
        f.write(repr(augmenter.probability))
    dist.destroy_process_group()
''')


@pytest.mark.slow
def test_every_rank_moves_p_from_the_logits_of_all_ranks(tmp_path):
    script = tmp_path / 'two_ranks.py'
    script.write_text(TWO_RANKS)
    result = torchrun([str(script), str(tmp_path)], cwd=tmp_path, nproc=2)
    assert result.returncode == 0, result.stderr[-3000:]
    # r_t = (6 - 10) / 16 = -0.25 < 0.6, over 2 x (3 + 5) = 16 images: p = 0.5 - 16 / 100 on both ranks;
    # rank 0 alone (r_t = 1) would have moved it up, rank 1 alone by 10 / 100
    assert [float((tmp_path / f'rank{rank}.txt').read_text()) for rank in (0, 1)] == [pytest.approx(0.34)] * 2


def test_saturation_moves_each_pixel_around_its_own_channel_mean_and_contrast_around_the_image_mean():
    # two pixels: (0.25, 0.5, 0.75) and white; in [-1, 1]: (-0.5, 0, 0.5) with channel mean 0, (1, 1, 1) with mean 1;
    # saturation 0.5 around each pixel's own mean -> (-0.25, 0, 0.25) and (1, 1, 1); contrast 2 around the mean of
    # all six values, 0.5 -> (-1, -0.5, 0) and (1.5, 1.5, 1.5); in [0, 1]: (0, 0.25, 0.5) and 1.25 (no clamp, as the
    # reference)
    images = torch.tensor([[0.25, 1.0], [0.5, 1.0], [0.75, 1.0]]).view(1, 3, 1, 2)
    out = augment(images, only(saturation=torch.tensor([0.5]), contrast=torch.tensor([2.0])))
    assert out[0, :, 0].tolist() == [[0.0, 1.25], [0.25, 1.25], [0.5, 1.25]]


def test_ada_reads_every_logit_of_a_map_but_steps_by_the_images_judged():
    augmenter = DiffAugment(POLICIES, 0.5, target=0.6, interval=1, ramp_images=100)
    # two images of 2 x 2 logits (Feat-D's map): signs 4 and 1 - 3 = -2, r_t = 2 / 8 = 0.25 < 0.6: down by 2 / 100
    # (per image: 2 / 2 = 1 would read as up; per logit: 8 / 100)
    augmenter.observe(torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, -2.0, -3.0]]).view(2, 1, 2, 2))
    augmenter.iteration_done(1)
    assert augmenter.probability == pytest.approx(0.48)


def test_each_ada_update_reads_only_the_logits_since_the_last_one():
    augmenter = DiffAugment(POLICIES, 0.5, target=0.6, interval=1, ramp_images=100)
    fed(augmenter, [1, 1, 1, 1], 1)  # r_t = 1 > 0.6: up by 4 / 100
    assert augmenter.probability == pytest.approx(0.54)
    # r_t = 0 < 0.6 on this iteration's logits alone (with the last iteration's too, 4 / 8 or 4 / 4): down by 4 / 100
    fed(augmenter, [1, 1, -1, -1], 1, start=2)
    assert augmenter.probability == pytest.approx(0.5)
    assert augmenter.state_dict() == {'probability': pytest.approx(0.5), 'signs': 0.0, 'logits': 0, 'images': 0}


class _Trainer:
    """What the mixin reads of BasicSR's model: a training state to add to and a resume to extend."""

    def training_state(self, epoch, current_iter):
        return {'epoch': epoch, 'iter': current_iter}

    def resume_training(self, resume_state):
        pass


class _AugmentedModel(DiffAugmentTraining, _Trainer):
    def __init__(self, rank=0, **diffaugment):
        self.opt, self.device, self.log_dict = {'rank': rank, 'train': {'diffaugment': diffaugment}}, 'cpu', {}
        self.setup_diffaugment()


def test_the_probability_defaults_to_1_when_fixed_and_to_0_when_adaptive():
    # docs/training.md: probability "1 (0 when adaptive)"
    assert _AugmentedModel().diffaugment.probability == 1.0
    assert _AugmentedModel(adaptive_target=0.6).diffaugment.probability == 0.0


def test_a_model_resumed_on_another_rank_takes_p_but_none_of_the_saved_sums():
    state = {'probability': 0.7, 'signs': 6.0, 'logits': 12, 'images': 12}
    for rank, sums in ((0, state), (1, {**state, 'signs': 0.0, 'logits': 0, 'images': 0})):
        model = _AugmentedModel(rank, adaptive_target=0.6)
        model.resume_training({'iter': 3, 'diffaugment': state})
        assert model.training_state(0, 3)['diffaugment'] == sums
