"""Vectorized image resampling used by the geometric transforms (private).

Coordinates are pixel centres: pixel ``(row i, column j)`` sits at ``x = j, y = i``, the y axis
points down. Every function works on a whole batch ``(N, C, H, W)`` at once: per-image matrices,
one sampling grid for all images, and gathers with flat fancy indexing (no loop over images).
"""

from __future__ import annotations

import numpy as np

_SNAP = 1e-4  # source coordinates this close to an integer are taken as that integer


def affine_inverse(angle_deg, translate, scale, shear_deg, height: int, width: int) -> np.ndarray:
    """Per-image (N, 2, 3) float32 maps from output pixel (x, y, 1) to source pixel (x, y).

    The forward map is ``p_out = c + t + R(angle) @ (scale * Sh) @ (p_in - c)`` about the
    centre ``c = ((W-1)/2, (H-1)/2)``; ``R`` turns counter-clockwise on screen for positive
    angles (as ``np.rot90`` and torchvision's ``rotate``) and ``Sh = [[1, tan sx], [tan sy, 1]]``.
    """
    angle = np.deg2rad(np.asarray(angle_deg, dtype=np.float64))
    shear = np.deg2rad(np.asarray(shear_deg, dtype=np.float64))
    n = angle.shape[0]
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)
    shear_matrix = np.empty((n, 2, 2))
    shear_matrix[:, 0, 0] = 1.0
    shear_matrix[:, 0, 1] = np.tan(shear[:, 0])
    shear_matrix[:, 1, 0] = np.tan(shear[:, 1])
    shear_matrix[:, 1, 1] = 1.0
    forward = rotation @ (np.asarray(scale, dtype=np.float64)[:, None, None] * shear_matrix)
    inverse = np.linalg.inv(forward)
    inverse[np.abs(inverse) < 1e-12] = 0.0  # cos(90 deg) is 6e-17, not 0
    centre = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    shifted = centre + np.asarray(translate, dtype=np.float64)  # (N, 2)
    offset = centre - (inverse @ shifted[:, :, None])[:, :, 0]
    return np.concatenate([inverse, offset[:, :, None]], axis=2).astype(np.float32)


def _snap_(coords: np.ndarray) -> None:
    """In place: coordinates within _SNAP of an integer become it (exact rot90 and shifts)."""
    rounded = np.rint(coords)
    distance = np.subtract(coords, rounded)
    np.abs(distance, out=distance)
    np.copyto(coords, rounded, where=distance < _SNAP)


def sample_affine(images: np.ndarray, theta: np.ndarray, mode: str, fill: float) -> np.ndarray:
    """Resample ``images`` (N, C, H, W) at ``theta`` (N, 2, 3) @ (x, y, 1) of every output pixel.

    ``mode`` is ``"bilinear"`` or ``"nearest"``; source points outside the image read ``fill``.
    """
    n, channels, height, width = images.shape
    points = height * width
    xs = np.arange(width, dtype=theta.dtype)[None, None, :]
    ys = np.arange(height, dtype=theta.dtype)[None, :, None]
    t = theta[:, :, :, None, None]
    src_x = t[:, 0, 0] * xs + t[:, 0, 1] * ys  # (N, H, W)
    src_x += t[:, 0, 2]
    src_y = t[:, 1, 0] * xs + t[:, 1, 1] * ys
    src_y += t[:, 1, 2]
    # pad with one ring of fill before and two after, and clamp sources into [-1, W] x [-1, H]:
    # every bilinear corner then lands inside the padded image, so no per-corner masks
    padded_w, padded_h = width + 3, height + 3
    padded = np.full((n, channels, padded_h, padded_w), fill, dtype=images.dtype)
    padded[:, :, 1 : height + 1, 1 : width + 1] = images
    flat = padded.reshape(-1)
    for coords, limit in ((src_x, width), (src_y, height)):
        _snap_(coords)
        np.clip(coords, -1.0, float(limit), out=coords)
        if mode == "nearest":
            coords += 0.5
    col0, row0 = np.floor(src_x), np.floor(src_y)
    # flat index of each point's top-left corner: plane offset + (row + 1) * Wp + (col + 1)
    index = row0 * padded_w
    index += col0
    index = index.astype(np.intp).reshape(n, 1, points)
    plane = padded_h * padded_w
    index += (np.arange(n) * (channels * plane) + padded_w + 1).reshape(n, 1, 1)
    if channels > 1:
        index = index + (np.arange(channels) * plane).reshape(1, channels, 1)
    if mode == "nearest":
        return np.take(flat, index).reshape(images.shape)
    wx = np.subtract(src_x, col0, out=src_x).reshape(n, 1, points)
    wy = np.subtract(src_y, row0, out=src_y).reshape(n, 1, points)
    # corners read through shifted views of the same buffer: flat[1:][i] == flat[i + 1]
    top = np.take(flat, index)
    right = np.take(flat[1:], index)
    right -= top
    right *= wx
    top += right
    bottom = np.take(flat[padded_w:], index)
    right = np.take(flat[padded_w + 1 :], index)
    right -= bottom
    right *= wx
    bottom += right
    bottom -= top
    bottom *= wy
    top += bottom
    return top.reshape(images.shape)


def interp_matrices(start, length, in_size: int, out_size: int, mode: str) -> np.ndarray:
    """(N, out_size, in_size) float32 matrices that resize the window ``[start, start+length)``.

    Bilinear uses half-pixel centres and clamps at the window's edges (PyTorch's
    ``interpolate(..., align_corners=False)`` on the cropped window); nearest takes
    ``floor(i * length / out_size)`` (PyTorch's ``"nearest"``).
    """
    start = np.asarray(start, dtype=np.float64).reshape(-1, 1)
    length = np.asarray(length, dtype=np.float64).reshape(-1, 1)
    n = start.shape[0]
    out = np.arange(out_size, dtype=np.float64)[None, :]
    step = length / out_size
    matrices = np.zeros((n, out_size, in_size), dtype=np.float32)
    image_index = np.arange(n)[:, None]
    out_index = np.arange(out_size)[None, :]
    if mode == "nearest":
        src = np.minimum(np.floor(out * step), length - 1) + start
        matrices[image_index, out_index, src.astype(np.intp)] = 1.0
        return matrices
    src = np.clip((out + 0.5) * step - 0.5, 0.0, length - 1)
    low = np.floor(src)
    weight_high = src - low
    high = np.minimum(low + 1, length - 1)
    matrices[image_index, out_index, (low + start).astype(np.intp)] = 1.0 - weight_high
    matrices[image_index, out_index, (high + start).astype(np.intp)] += weight_high
    return matrices


def resample_windows(images, top, left, height, width, out_size, mode: str) -> np.ndarray:
    """Crop window ``(top, left, height, width)`` of each image and resize it to ``out_size``.

    Separable: ``rows (N,1,Ho,H) @ images @ cols (N,1,W,Wo)``, exact for crop-then-resize.
    """
    out_h, out_w = out_size
    rows = interp_matrices(top, height, images.shape[2], out_h, mode)
    cols = interp_matrices(left, width, images.shape[3], out_w, mode)
    return (rows[:, None] @ images) @ cols[:, None].transpose(0, 1, 3, 2)
