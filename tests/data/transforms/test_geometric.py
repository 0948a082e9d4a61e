import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule.data import transforms as T


def _images(n=4, c=2, h=7, w=7, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w), dtype=np.float32)


def _forward_matrix(angle, scale=1.0, shear=(0.0, 0.0)):
    """The documented forward map: R(angle, counter-clockwise on screen) @ scale * Shear."""
    a = math.radians(angle)
    rotation = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
    shear_matrix = np.array([[1.0, math.tan(math.radians(shear[0]))],
                             [math.tan(math.radians(shear[1])), 1.0]])
    return rotation @ (scale * shear_matrix)


def _reference_warp(image, forward, translate=(0.0, 0.0), fill=0.0):
    """Per-pixel bilinear resampling of one (C, H, W) image, written out point by point."""
    channels, height, width = image.shape
    centre = np.array([(width - 1) / 2, (height - 1) / 2])
    inverse = np.linalg.inv(forward)
    out = np.zeros_like(image, dtype=np.float64)
    for i in range(height):
        for j in range(width):
            sx, sy = inverse @ (np.array([j, i]) - centre - np.asarray(translate)) + centre
            x0, y0 = math.floor(sx), math.floor(sy)
            fx, fy = sx - x0, sy - y0
            for dy, wy in ((0, 1 - fy), (1, fy)):
                for dx, wx in ((0, 1 - fx), (1, fx)):
                    yy, xx = y0 + dy, x0 + dx
                    inside = 0 <= yy < height and 0 <= xx < width
                    value = image[:, yy, xx] if inside else fill
                    out[:, i, j] += wy * wx * value
    return out


@pytest.mark.parametrize("k", [1, -1, 2, 3])
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_rotation_by_multiples_of_90_equals_rot90(k, interpolation):
    x = _images(h=6, w=6)
    out = T.RandomRotation((90 * k, 90 * k), interpolation=interpolation)(x)
    np.testing.assert_array_equal(out, np.rot90(x, k, axes=(-2, -1)))


def test_rotation_direction_is_counter_clockwise():
    x = np.zeros((1, 1, 5, 5), np.float32)
    x[0, 0, 2, 4] = 1.0  # right of the centre
    out = T.RandomRotation((90, 90))(x)
    assert out[0, 0, 0, 2] == 1.0 and out.sum() == 1.0  # now above the centre


def test_180_on_non_square_image_reverses_both_axes():
    x = _images(h=5, w=8)
    np.testing.assert_array_equal(T.RandomRotation((180, 180))(x), x[..., ::-1, ::-1])


def test_identity_affine_returns_input_exactly():
    x = _images(h=5, w=9)
    out = T.RandomAffine(0, translate=(0, 0), scale=(1, 1), shear=0)(x)
    np.testing.assert_array_equal(out, x)
    assert out is not x


@pytest.mark.parametrize("angle, scale, shear", [
    (30.0, 1.0, (0.0, 0.0)), (-17.0, 1.3, (0.0, 0.0)), (10.0, 0.8, (15.0, -5.0)),
    (0.0, 1.0, (20.0, 0.0)),
])
def test_affine_matches_pointwise_bilinear_reference(angle, scale, shear):
    x = _images(n=2, c=2, h=6, w=7)
    transform = T.RandomAffine((angle, angle), scale=(scale, scale),
                               shear=(shear[0], shear[0], shear[1], shear[1]))
    out = transform(x)
    forward = _forward_matrix(angle, scale, shear)
    for image, result in zip(x, out):
        np.testing.assert_allclose(result, _reference_warp(image, forward), atol=2e-6)


def test_fill_value_outside_image():
    x = np.zeros((1, 1, 4, 4), np.float32)
    out = T.RandomAffine((45, 45), fill=0.5)(x)
    expected = _reference_warp(x[0], _forward_matrix(45), fill=0.5)
    np.testing.assert_allclose(out[0], expected, atol=1e-6)
    assert out[0, 0, 0, 0] > 0.25  # a corner comes from outside, reading the fill


def _shift(image, dx, dy):
    out = np.zeros_like(image)
    h, w = image.shape[-2:]
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def test_integer_translation_equals_zero_filled_shift():
    x = _images(n=16, c=1, h=8, w=10, seed=3)
    out = T.RandomAffine(0, translate=(0.3, 0.25), seed=0)(x)
    max_dx, max_dy = round(0.3 * 10), round(0.25 * 8)
    shifts = set()
    for image, result in zip(x, out):
        candidates = [(dx, dy) for dx in range(-max_dx, max_dx + 1)
                      for dy in range(-max_dy, max_dy + 1)]
        matches = [s for s in candidates if np.array_equal(result, _shift(image, *s))]
        assert len(matches) == 1
        shifts.add(matches[0])
    assert len(shifts) > 3  # the shifts are drawn per image


def test_single_image_and_reproducibility():
    x = _images(n=1)[0]
    a = T.RandomAffine(20, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5, seed=4)(x)
    b = T.RandomAffine(20, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5, seed=4)(x)
    assert a.shape == x.shape
    np.testing.assert_array_equal(a, b)
    c = T.RandomAffine(20, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5, seed=5)(x)
    assert not np.array_equal(a, c)


def test_each_image_gets_its_own_angle():
    x = np.repeat(_images(n=1), 6, axis=0)
    out = T.RandomRotation(40, seed=0)(x)
    assert len({out[i].tobytes() for i in range(6)}) == 6


@settings(max_examples=25, deadline=None)
@given(angle=st.floats(-180, 180), size=st.integers(3, 9))
def test_rotation_matches_reference_for_any_angle(angle, size):
    x = _images(n=1, c=1, h=size, w=size, seed=size)
    out = T.RandomRotation((angle, angle))(x)[0]
    # The sampling grid is computed in float32: coordinates carry ~1e-6 relative error, which
    # bilinear weights turn into ~1e-5 absolute error on values in [0, 1].
    np.testing.assert_allclose(out, _reference_warp(x[0], _forward_matrix(angle)), atol=1e-4)


def test_affine_argument_errors():
    with pytest.raises(ValueError, match="degrees"):
        T.RandomAffine(-5)
    with pytest.raises(ValueError, match="translate"):
        T.RandomAffine(0, translate=(1.5, 0))
    with pytest.raises(ValueError, match="scale"):
        T.RandomAffine(0, scale=(0, 1))
    with pytest.raises(ValueError, match="interpolation"):
        T.RandomAffine(0, interpolation="cubic")
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        T.RandomAffine(10)(np.zeros((4, 4), np.float32))


def test_flips():
    x = _images(n=8, seed=2)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(1.0)(x), x[..., ::-1, :])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(x), x)
    out = T.RandomHorizontalFlip(0.5, seed=0)(x)
    flipped = [np.array_equal(o, i[..., ::-1]) for o, i in zip(out, x)]
    kept = [np.array_equal(o, i) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
    single = T.RandomHorizontalFlip(1.0)(x[0])
    np.testing.assert_array_equal(single, x[0][..., ::-1])  # all channels of one image
    signals = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(signals), signals[:, ::-1])


def _reference_resize_axis(length_in, length_out, mode):
    """(out, in) interpolation matrix written from the formulas, row by row."""
    matrix = np.zeros((length_out, length_in))
    scale = length_in / length_out
    for i in range(length_out):
        if mode == "nearest":
            matrix[i, min(int(math.floor(i * scale)), length_in - 1)] = 1.0
            continue
        src = min(max((i + 0.5) * scale - 0.5, 0.0), length_in - 1)
        low = int(math.floor(src))
        high = min(low + 1, length_in - 1)
        matrix[i, low] += 1 - (src - low)
        matrix[i, high] += src - low
    return matrix


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("out_size", [(3, 5), (14, 9), (7, 7)])
def test_resize_matches_formula(mode, out_size):
    x = _images(n=2, h=7, w=6)
    out = T.Resize(out_size, interpolation=mode)(x)
    rows = _reference_resize_axis(7, out_size[0], mode)
    cols = _reference_resize_axis(6, out_size[1], mode)
    expected = np.einsum("oh,nchw,pw->ncop", rows, x.astype(np.float64), cols)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert out.dtype == np.float32


def test_resize_closed_forms():
    x = _images(n=2, h=6, w=8)
    np.testing.assert_array_equal(T.Resize((12, 16), "nearest")(x), x.repeat(2, -2).repeat(2, -1))
    np.testing.assert_array_equal(T.Resize((3, 4), "nearest")(x), x[..., ::2, ::2])
    block_mean = x.reshape(2, 2, 3, 2, 4, 2).mean(axis=(3, 5))
    np.testing.assert_allclose(T.Resize((3, 4))(x), block_mean, atol=1e-6)
    assert T.Resize(4)(np.zeros((1, 6, 12), np.float32)).shape == (1, 4, 8)  # smaller edge


def test_resize_against_torch():
    torch = pytest.importorskip("torch")
    x = _images(n=2, h=9, w=11)
    for size in [(4, 5), (20, 13)]:
        for mode in ["bilinear", "nearest"]:
            kwargs = {"align_corners": False} if mode == "bilinear" else {}
            expected = torch.nn.functional.interpolate(torch.from_numpy(x), size=size,
                                                       mode=mode, **kwargs).numpy()
            np.testing.assert_allclose(T.Resize(size, mode)(x), expected, atol=1e-5)


def test_affine_against_torch_grid_sample():
    torch = pytest.importorskip("torch")
    x = _images(n=1, c=1, h=9, w=9)
    forward = _forward_matrix(33.0, 1.2, (12.0, 0.0))
    inverse = np.linalg.inv(forward)  # square image: normalized coords are pixel coords / 4
    theta = torch.tensor(np.concatenate([inverse, np.zeros((2, 1))], 1)[None], dtype=torch.float32)
    grid = torch.nn.functional.affine_grid(theta, (1, 1, 9, 9), align_corners=True)
    expected = torch.nn.functional.grid_sample(torch.from_numpy(x), grid, mode="bilinear",
                                               padding_mode="zeros", align_corners=True).numpy()
    out = T.RandomAffine((33, 33), scale=(1.2, 1.2), shear=(12, 12))(x)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_random_resized_crop_equals_crop_then_resize():
    x = _images(n=6, h=12, w=10)
    boxes = T.RandomResizedCrop((5, 6), seed=3).crop_boxes(6, 12, 10)
    out = T.RandomResizedCrop((5, 6), seed=3)(x)
    for image, box, result in zip(x, boxes, out):
        top, left, height, width = box
        assert 0 <= top and top + height <= 12 and 0 <= left and left + width <= 10
        crop = image[:, top:top + height, left:left + width]
        np.testing.assert_allclose(result, T.Resize((5, 6))(crop), atol=1e-6)


def test_random_resized_crop_box_statistics():
    boxes = T.RandomResizedCrop(8, scale=(0.25, 0.5), ratio=(0.5, 2.0), seed=0).crop_boxes(
        500, 40, 40)
    area = boxes[:, 2] * boxes[:, 3] / 1600
    aspect = boxes[:, 3] / boxes[:, 2]
    # rounding the sides to whole pixels moves area and ratio a little
    assert area.min() > 0.2 and area.max() < 0.56
    assert aspect.min() > 0.45 and aspect.max() < 2.2


def test_random_crop_is_a_window_of_the_padded_image():
    x = _images(n=10, c=1, h=6, w=6, seed=5)
    out = T.RandomCrop(6, padding=2, seed=0)(x)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = set()
    for image, result in zip(padded, out):
        matches = [(r, c) for r in range(5) for c in range(5)
                   if np.array_equal(result, image[:, r:r + 6, c:c + 6])]
        assert matches
        offsets.add(matches[0])
    assert len(offsets) > 2
    assert T.RandomCrop((3, 4), seed=0)(x).shape == (10, 1, 3, 4)
    with pytest.raises(ValueError, match="larger"):
        T.RandomCrop(9)(x)
