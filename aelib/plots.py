"""Figures used across the chapters. Pixels are drawn with the ``binary`` colour map (ink is black).

Colours are chosen so that readers with any colour vision can read the figures: lines and markers
come from the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies) and
always differ in a second way too (marker or line style); wrong pixels are vermilion and crossed, which
stands out from both black ink and white paper; and no figure colours more classes than its
palette has distinct colours (the noisy codes of 27 letters are tied to their letter by lines, not
by 27 colours).
"""
import numbers

import matplotlib.pyplot as plt
import numpy as np

from .data import EMOJI_SHAPE, FONT_SHAPE
from .validation import as_shape, one_per, positive_int, positive_number

PIXEL_CMAP = "binary"
# Okabe & Ito (2008), "Color Universal Design": blue, vermilion, bluish green, reddish purple,
# orange, sky blue, yellow, black.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")
# Okabe-Ito's vermilion (#D55E00): a red that stays distinct from black ink and white paper for every
# colour vision; wrong pixels also carry a cross (see draw_glyph).
WRONG_PIXEL_COLOR = (0.835, 0.369, 0.0)
# Text that counts wrong pixels: a dark vermilion with a contrast of at least 4.5:1 on white.
WRONG_TEXT_COLOR = "#A33C00"


def _rows(X, name):
    # The argument checks of the plotting functions: a 2-D array of real numbers with at least
    # one row. NaN is allowed: it shows as an empty pixel.
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"{name} must be a 2-D array of numbers, got {type(X).__name__}")
    array = np.asarray(X)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a 2-D array of real numbers, got dtype {array.dtype}")
    if array.ndim != 2:
        hint = " (use X.reshape(1, -1) for a single glyph)" if array.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D (one row per item), got shape {array.shape}{hint}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row to plot, got shape {array.shape}")
    return array.astype(np.float64, copy=False)


def _shape(shape, n_features, name="shape"):
    # The (rows, cols) of the glyphs: the one given, checked against their pixels, or a guess.
    return glyph_shape(n_features) if shape is None else as_shape(shape, name, n_features)


def _labels(labels, name, n, what="glyph"):
    # Optional texts, one per row: None, or exactly n of them (zip would drop the extra ones silently).
    return None if labels is None else one_per(labels, name, n, what)


def _flags(flags, name, shape):
    # Optional booleans of a given shape, e.g. the wrong pixels of each glyph.
    if flags is None:
        return None
    array = np.asarray(flags)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of booleans, got dtype {array.dtype}")
    if array.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, one flag per pixel, got {array.shape}")
    return array.astype(bool)


def _pixels(value, name):
    # A whole number of pixels >= 0, e.g. the gap between tiles.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a whole number of pixels >= 0, got {value!r}")
    return int(value)


def _number(value, name):
    # A finite real number, e.g. a threshold.
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _extent(extent):
    # (z1_min, z1_max, z2_min, z2_max): four finite numbers, each min below its max.
    try:
        values = [float(value) for value in extent]
    except (TypeError, ValueError):
        raise TypeError(f"extent must be 4 numbers (z1_min, z1_max, z2_min, z2_max), got {extent!r}") from None
    if len(values) != 4 or not all(np.isfinite(values)) or values[0] >= values[1] or values[2] >= values[3]:
        raise ValueError(f"extent must be (z1_min, z1_max, z2_min, z2_max), finite, with min < max, got {extent!r}")
    return values


def glyph_shape(n_features):
    """The (rows, cols) of a glyph from its number of pixels: 35 -> (7, 5), 144 -> (12, 12)."""
    for shape in (FONT_SHAPE, EMOJI_SHAPE):
        if shape[0] * shape[1] == n_features:
            return shape
    side = int(round(np.sqrt(n_features)))
    if side * side == n_features:
        return (side, side)
    raise ValueError(f"cannot guess a glyph shape for {n_features} pixels; pass shape=(rows, cols)")


def draw_glyph(ax, x, shape=None, title=None, wrong=None, vmin=0.0, vmax=1.0):
    """Draw one glyph x: (n_features,) on ``ax``.

    wrong: boolean (n_features,), pixels to mark in vermilion, each with a black cross.
    """
    x = _rows(np.reshape(x, (1, -1)) if np.ndim(x) == 1 else x, "x")
    if x.shape[0] != 1:
        raise ValueError(f"x must be one glyph, (n_features,), got shape {x.shape}")
    shape = _shape(shape, x.shape[1])
    wrong = _flags(wrong, "wrong", (x.shape[1],))
    ax.imshow(np.reshape(x, shape), cmap=PIXEL_CMAP, vmin=vmin, vmax=vmax, interpolation="nearest")
    if wrong is not None and np.any(wrong):
        overlay = np.zeros(shape + (4,))
        overlay[np.reshape(wrong, shape)] = WRONG_PIXEL_COLOR + (0.9,)
        ax.imshow(overlay, interpolation="nearest")
        # A cross on each wrong pixel, so that the mark does not rest on colour alone.
        rows, cols = np.nonzero(np.reshape(wrong, shape))
        ax.plot(cols, rows, linestyle="none", marker="x", color="black", markersize=4, markeredgewidth=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=9)


def plot_glyphs(X, labels=None, shape=None, ncols=9, wrong=None, title=None, cell_size=0.9, vmin=0.0, vmax=1.0):
    """A grid of glyphs. X: (n_glyphs, n_features); labels: n titles; wrong: (n_glyphs, n_features) bool.

    Returns the matplotlib Figure.
    """
    X = _rows(X, "X")
    shape = _shape(shape, X.shape[1])
    labels = _labels(labels, "labels", len(X))
    wrong = _flags(wrong, "wrong", X.shape)
    cell_size = positive_number(cell_size, "cell_size")
    ncols = min(positive_int(ncols, "ncols"), len(X))
    nrows = int(np.ceil(len(X) / ncols))
    aspect = shape[0] / shape[1]
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell_size * ncols, cell_size * aspect * nrows + 0.3 * nrows),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(X):
            ax.axis("off")
            continue
        draw_glyph(ax, X[i], shape, None if labels is None else labels[i],
                   None if wrong is None else wrong[i], vmin, vmax)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_rows(rows, row_labels, shape=None, labels=None, title=None, cell_size=0.8):
    """Several aligned rows of glyphs, e.g. clean / noisy / denoised. rows: list of (n, n_features)."""
    if len(rows) == 0:
        raise ValueError("rows must hold at least one array of glyphs, got none")
    rows = _aligned_rows(rows)
    n = len(rows[0])
    shape = _shape(shape, rows[0].shape[1])
    row_labels = one_per(row_labels, "row_labels", len(rows), "row")
    labels = _labels(labels, "labels", n, "glyph of a row")
    aspect = shape[0] / shape[1]
    fig, axes = plt.subplots(len(rows), n, figsize=(cell_size * n + 1.2, cell_size * aspect * len(rows) + 0.4),
                             squeeze=False)
    for r, (row, name) in enumerate(zip(rows, row_labels)):
        for i in range(n):
            draw_glyph(axes[r, i], np.clip(row[i], 0, 1), shape,
                       labels[i] if (labels is not None and r == 0) else None)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _aligned_rows(rows):
    # Rows of glyphs drawn one above the other: each a 2-D array, all with as many glyphs and pixels.
    if isinstance(rows, np.ndarray) and rows.ndim == 2:
        raise TypeError("rows must be a list of 2-D arrays (one per row of the figure), got one 2-D array; "
                        "pass [X] for a single row")
    if not hasattr(rows, "__len__") or len(rows) == 0:
        raise ValueError(f"rows must be a list of at least one array of glyphs, got {rows!r}")
    rows = [_rows(row, f"rows[{i}]") for i, row in enumerate(rows)]
    for i, row in enumerate(rows[1:], start=1):
        if row.shape != rows[0].shape:
            raise ValueError(f"rows[{i}] must have the shape of rows[0], {rows[0].shape} (as many glyphs, "
                             f"as many pixels), got {row.shape}")
    return rows


def _curve(values, name):
    # One curve to plot: a non-empty 1-D sequence of finite numbers.
    array = np.asarray(values) if not isinstance(values, (str, bytes)) else np.asarray(None)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a list of numbers, got {values!r}")
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D list of numbers, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must contain only finite numbers, got {np.count_nonzero(~np.isfinite(array))} "
                         "NaN or infinite value(s)")
    return array.astype(np.float64)


def plot_history(history, title="Training loss", ylabel="loss", logy=True, ax=None):
    """A loss curve. history: a list of per-epoch values, or a dict name -> list.

    Curves of a dict may have different lengths (each is drawn against its own epochs 1, 2, ...).
    With ``logy`` (the default) every value must be positive.
    """
    if isinstance(history, dict):
        if not history:
            raise ValueError("history must hold at least one curve, got an empty dict")
        curves = {name: _curve(values, f"history[{name!r}]") for name, values in history.items()}
    else:
        curves = {ylabel: _curve(history, "history")}
    if logy:
        for name, values in curves.items():
            if values.min() <= 0:
                where = "history" if not isinstance(history, dict) else f"history[{name!r}]"
                raise ValueError(f"{where} must be positive to be drawn on a log scale, got a minimum of "
                                 f"{values.min()!r}; pass logy=False")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.2))
    else:
        fig = ax.figure
    for k, (name, values) in enumerate(curves.items()):
        ax.plot(np.arange(1, len(values) + 1), values, label=name, color=PALETTE[k % len(PALETTE)],
                linestyle=LINESTYLES[k % len(LINESTYLES)])
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_latent(Z, labels, ax=None, title="Latent space", color="C0"):
    """Scatter of 2-D codes Z: (n, 2) with each point's label written at its code."""
    Z = _rows(Z, "Z")
    if Z.shape[1] != 2:
        raise ValueError(f"Z must have 2 columns to plot a latent plane, got shape {Z.shape}")
    labels = one_per(labels, "labels", len(Z), "code of Z")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 5.5))
    else:
        fig = ax.figure
    ax.scatter(Z[:, 0], Z[:, 1], s=14, color=color, alpha=0.35)
    for (z1, z2), label in zip(Z, labels):
        ax.annotate(label, (z1, z2), fontsize=12, ha="center", va="center", color=color, fontweight="bold")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


def latent_grid(extent, n):
    """Codes on an n x n grid over extent = (z1_min, z1_max, z2_min, z2_max); rows top (high z2) to bottom.

    Returns Z: (n * n, 2). n: an integer >= 2 (the grid reaches both edges of ``extent``).
    """
    extent = _extent(extent)
    n = positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n must be an integer >= 2: the grid's codes run from edge to edge of extent, got {n}")
    z1 = np.linspace(extent[0], extent[1], n)
    z2 = np.linspace(extent[3], extent[2], n)
    return np.array([(a, b) for b in z2 for a in z1])


def plot_latent_map(decode, extent, n=15, shape=None, title="Decoded latent grid", threshold=None, ax=None):
    """Decode an n x n grid of codes over ``extent`` and tile the glyphs into one image.

    decode: function Z (m, 2) -> X_hat (m, n_features). extent: (z1_min, z1_max, z2_min, z2_max);
    n: an integer >= 2. threshold: if given, show X_hat > threshold.
    """
    if not callable(decode):
        raise TypeError(f"decode must be a function Z -> X_hat, such as model.decode, got {type(decode).__name__}")
    Z = latent_grid(extent, n)
    extent = _extent(extent)
    X_hat = _rows(decode(Z), "decode(Z)")
    if X_hat.shape[0] != n * n:
        raise ValueError(f"decode must return one row per code, {n * n} for the {n} x {n} grid, got {X_hat.shape[0]}")
    if threshold is not None:
        X_hat = (X_hat > _number(threshold, "threshold")).astype(float)
    shape = _shape(shape, X_hat.shape[1])
    rows, cols = shape
    pad = 1
    canvas = np.full((n * (rows + pad) + pad, n * (cols + pad) + pad), 0.25)
    for k, x in enumerate(X_hat):
        i, j = divmod(k, n)
        canvas[pad + i * (rows + pad):pad + i * (rows + pad) + rows,
               pad + j * (cols + pad):pad + j * (cols + pad) + cols] = x.reshape(shape)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 6.5 * canvas.shape[0] / canvas.shape[1]))
    else:
        fig = ax.figure
    # The codes run from edge to edge of ``extent``; widen the image by half a grid step on each
    # side so that every tile is centred on the code it was decoded from.
    half_z1 = (extent[1] - extent[0]) / (2 * (n - 1))
    half_z2 = (extent[3] - extent[2]) / (2 * (n - 1))
    ax.imshow(canvas, cmap=PIXEL_CMAP, vmin=0, vmax=1, interpolation="nearest",
              extent=(extent[0] - half_z1, extent[1] + half_z1, extent[2] - half_z2, extent[3] + half_z2),
              aspect="auto")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    return fig


def plot_recovery_curves(levels, curves, xlabel, title="Exact-glyph recovery", reference=None, ax=None,
                         legend=True):
    """Recovery rate against noise level. curves: dict name -> rates (one per level).

    reference: the name of a curve to draw as a dashed black line (e.g. the Bayes ceiling).
    legend: False to leave the legend to the caller (e.g. one legend for several panels).
    At most 8 curves besides the reference: each has a colour and a marker of its own.
    """
    levels = _curve(levels, "levels")
    if not isinstance(curves, dict) or not curves:
        raise TypeError(f"curves must be a non-empty dict name -> rates (one per level), got {curves!r}")
    curves = {name: _curve(rates, f"curves[{name!r}]") for name, rates in curves.items()}
    for name, rates in curves.items():
        if len(rates) != len(levels):
            raise ValueError(f"curves[{name!r}] must have one rate per level: {len(levels)} levels, got {len(rates)} rates")
    if reference is not None and reference not in curves:
        raise ValueError(f"reference must name one of the curves {list(curves)}, got {reference!r}")
    if len(curves) - (reference is not None) > len(PALETTE):
        raise ValueError(f"curves can hold at most {len(PALETTE)} curves besides the reference (one colour and "
                         f"marker each), got {len(curves) - (reference is not None)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.4))
    else:
        fig = ax.figure
    styles = iter(zip(PALETTE, MARKERS))
    for name, rates in curves.items():
        if name == reference:
            ax.plot(levels, rates, "k--", marker=".", label=name, zorder=3)
        else:
            color, marker = next(styles)
            ax.plot(levels, rates, marker=marker, markersize=4, color=color, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("exact recovery rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=8)
    return fig


def plot_latent_clouds(Z, labels, Z_noisy, noisy_index, ax=None, title="Latent space", xlabel="$z_1$",
                       ylabel="$z_2$"):
    """Codes of noisy samples as clouds around the codes of the clean glyphs.

    Z: (n_glyphs, 2) clean codes, written as their ``labels``; Z_noisy: (m, 2) codes of noisy
    samples; noisy_index: (m,) the glyph each noisy sample came from. Each noisy code is a dot
    joined to its glyph's code by a faint line: a compact star is a tight cloud, long lines that
    cross the plane are noisy copies encoded far from their letter. (Colours could not tell 27
    glyphs apart.)
    """
    Z, Z_noisy = _rows(Z, "Z"), _rows(Z_noisy, "Z_noisy")
    if Z.shape[1] != 2 or Z_noisy.shape[1] != 2:
        raise ValueError(f"Z and Z_noisy must have 2 columns, got shapes {Z.shape} and {Z_noisy.shape}")
    labels = one_per(labels, "labels", len(Z), "code of Z")
    noisy_index = np.asarray(noisy_index)
    if noisy_index.dtype.kind not in "iu":
        raise TypeError(f"noisy_index must hold integers (the row of Z of each noisy code), got dtype {noisy_index.dtype}")
    if noisy_index.shape != (len(Z_noisy),):
        raise ValueError(f"noisy_index must have one entry per code of Z_noisy, shape ({len(Z_noisy)},), "
                         f"got {noisy_index.shape}")
    if noisy_index.min() < 0 or noisy_index.max() >= len(Z):
        raise ValueError(f"noisy_index must name rows of Z, 0 to {len(Z) - 1}, got values from "
                         f"{noisy_index.min()} to {noisy_index.max()}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 5.5))
    else:
        fig = ax.figure
    from matplotlib.collections import LineCollection
    own = Z[noisy_index]
    ax.add_collection(LineCollection(np.stack([own, Z_noisy], axis=1), colors=PALETTE[0], linewidths=0.5,
                                     alpha=0.25))
    ax.scatter(Z_noisy[:, 0], Z_noisy[:, 1], s=6, color=PALETTE[0], alpha=0.6, linewidths=0)
    for (z1, z2), label in zip(Z, labels):
        ax.annotate(label, (z1, z2), fontsize=11, ha="center", va="center", fontweight="bold",
                    bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "alpha": 0.7, "linewidth": 0})
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


def plot_latent_glyphs(Z, X, size=None, shape=None, sigma=None, highlight=None, prior=False, ax=None,
                       title="Latent space", highlight_color=PALETTE[0], highlight_label=None):
    """Draw each glyph X[i] as a small picture centred at its 2-D code Z[i].

    Z: (n, 2) codes; X: (n, n_features) pixel values in [0, 1]. size: a glyph's width in latent
    units (default: 0.9 times the median distance from a code to its nearest neighbour, which
    tiles a regular grid with thin gaps). sigma: (n, 2) standard deviations of each code's
    Gaussian, drawn as blue ellipses of two standard deviations. highlight: boolean (n,), glyphs
    framed in ``highlight_color``, Okabe-Ito blue unless given (``highlight_label`` names them in
    a legend). prior: draw the circles of radius 1 and 2, inside which the prior N(0, I) puts 39%
    and 86% of its mass.
    Returns the matplotlib Figure.
    """
    Z = _rows(Z, "Z")
    X = _rows(X, "X")
    if Z.ndim != 2 or Z.shape[1] != 2:
        raise ValueError(f"Z must have shape (n, 2) to draw a latent plane, got {Z.shape}")
    if X.ndim != 2 or X.shape[0] != Z.shape[0]:
        raise ValueError(f"X must have one row per code in Z ({Z.shape[0]}), got shape {X.shape}")
    shape = _shape(shape, X.shape[1])
    if sigma is not None:
        sigma = _rows(sigma, "sigma")
        if sigma.shape != Z.shape or (sigma < 0).any():
            raise ValueError(f"sigma must hold a standard deviation >= 0 for each coordinate of each code, "
                             f"shape {Z.shape}, got shape {sigma.shape} with minimum {sigma.min()!r}")
    if highlight is not None:
        highlight = _flags(highlight, "highlight", (len(Z),))
    if size is not None:
        size = positive_number(size, "size")
    if size is None:
        distances = np.linalg.norm(Z[:, None, :] - Z[None, :, :], axis=2)
        np.fill_diagonal(distances, np.inf)
        size = 0.9 * float(np.median(distances.min(axis=1))) if len(Z) > 1 else 1.0
    width, height = size, size * shape[0] / shape[1]
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 6.5))
    else:
        fig = ax.figure
    if prior:
        for radius in (1.0, 2.0):
            ax.add_patch(plt.Circle((0.0, 0.0), radius, fill=False, linestyle="--", linewidth=1.0,
                                    color="0.55", zorder=0))
    highlight = np.zeros(len(Z), dtype=bool) if highlight is None else np.asarray(highlight, dtype=bool)
    for (z1, z2), x, marked in zip(Z, X, highlight):
        box = (z1 - width / 2, z1 + width / 2, z2 - height / 2, z2 + height / 2)
        ax.imshow(np.reshape(np.clip(x, 0.0, 1.0), shape), cmap=PIXEL_CMAP, vmin=0.0, vmax=1.0,
                  interpolation="nearest", extent=box, zorder=2)
        ax.add_patch(plt.Rectangle((box[0], box[2]), width, height, fill=False, zorder=3,
                                   linewidth=1.8 if marked else 0.5,
                                   edgecolor=highlight_color if marked else "0.6"))
    if sigma is not None:
        from matplotlib.patches import Ellipse
        for (z1, z2), (s1, s2) in zip(Z, np.asarray(sigma, dtype=np.float64)):
            ax.add_patch(Ellipse((z1, z2), 4 * s1, 4 * s2, fill=False, linewidth=1.2, color=PALETTE[0], zorder=4))
    if highlight_label is not None and highlight.any():
        ax.plot([], [], marker="s", linestyle="none", markerfacecolor="none", markersize=9,
                markeredgewidth=1.8, color=highlight_color, label=highlight_label)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False, fontsize=9)
    # A square window around everything drawn, so that panels side by side have the same size.
    reach = np.full(Z.shape, 0.6 * max(width, height))
    if sigma is not None:
        reach = np.maximum(reach, 2.1 * np.asarray(sigma, dtype=np.float64))
    low, high = (Z - reach).min(axis=0), (Z + reach).max(axis=0)
    centre, half = (low + high) / 2, (high - low).max() / 2
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_aspect("equal")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    return fig


def plot_glyph_tiles(X, ncols=8, shape=None, ax=None, title=None, gap=1):
    """Many glyphs tiled into one picture, e.g. samples of a generative model. X: (n, n_features).

    Unlike ``plot_glyphs`` it draws on a single axes, so it can be one panel of a larger figure.
    Returns the matplotlib Figure.
    """
    X = _rows(X, "X")
    shape = _shape(shape, X.shape[1])
    rows, cols = shape
    gap = _pixels(gap, "gap")
    ncols = min(positive_int(ncols, "ncols"), len(X))
    nrows = int(np.ceil(len(X) / ncols))
    # Gaps and unused tiles are light grey, so that a glyph's white border stays visible.
    canvas = np.full((nrows * (rows + gap) + gap, ncols * (cols + gap) + gap), 0.2)
    for k, x in enumerate(X):
        i, j = divmod(k, ncols)
        top, left = gap + i * (rows + gap), gap + j * (cols + gap)
        canvas[top:top + rows, left:left + cols] = np.reshape(np.clip(x, 0.0, 1.0), shape)
    if ax is None:
        fig, ax = plt.subplots(figsize=(min(7.0, 0.5 * ncols), min(7.0, 0.5 * nrows) + 0.4))
    else:
        fig = ax.figure
    ax.imshow(canvas, cmap=PIXEL_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return fig


def plot_reconstructions(X, X_hat, labels=None, shape=None, ncols=7, threshold=0.5, title=None, cell_size=0.36):
    """Each glyph beside its reconstruction, its wrong pixels marked in vermilion with a black cross.

    X: (n_glyphs, n_features) targets in [0, 1]; X_hat: (n_glyphs, n_features) reconstructions.
    A pixel is wrong when ``X_hat > threshold`` and ``X > threshold`` disagree. Each pair is titled
    with its label and its number of wrong pixels (in dark vermilion when not zero). cell_size: a glyph's width
    in inches. Returns the matplotlib Figure.
    """
    X = _rows(X, "X")
    X_hat = _rows(X_hat, "X_hat")
    if X.ndim != 2 or X.shape != X_hat.shape:
        raise ValueError(f"X and X_hat must be 2-D with the same shape, got {X.shape} and {X_hat.shape}")
    shape = _shape(shape, X.shape[1])
    rows, cols = shape
    labels = _labels(labels, "labels", len(X))
    threshold = _number(threshold, "threshold")
    cell_size = positive_number(cell_size, "cell_size")
    wrong = (X_hat > threshold) != (X > threshold)
    ncols = min(positive_int(ncols, "ncols"), len(X))
    nrows = int(np.ceil(len(X) / ncols))
    # One picture on one axes (many small axes are slow to draw), in units of pixels: pairs of
    # glyphs one pixel apart, pairs three pixels apart, and room above each row for the titles.
    inner_gap, pair_gap, label_room, row_gap = 1, 3, 3, 1
    pair_width = 2 * cols + inner_gap
    row_height = label_room + rows + row_gap
    width, height = ncols * pair_width + (ncols - 1) * pair_gap, nrows * row_height
    canvas = np.ones((height, width, 3))
    fig, ax = plt.subplots(figsize=(cell_size / cols * width, cell_size / cols * height + (0.35 if title else 0)))
    ink_to_gray = plt.get_cmap(PIXEL_CMAP)
    for i in range(len(X)):
        row, col = divmod(i, ncols)
        top, left = row * row_height + label_room, col * (pair_width + pair_gap)
        for k, (x, marked) in enumerate(((X[i], None), (np.clip(X_hat[i], 0.0, 1.0), wrong[i]))):
            pixels = ink_to_gray(np.reshape(x, shape))[..., :3]
            if marked is not None:
                marked_pixels = np.reshape(marked, shape)
                pixels[marked_pixels] = 0.2 * pixels[marked_pixels] + 0.8 * np.array(WRONG_PIXEL_COLOR)
            x0 = left + k * (cols + inner_gap)
            canvas[top:top + rows, x0:x0 + cols] = pixels
            if marked is not None and marked.any():
                wrong_rows, wrong_cols = np.nonzero(np.reshape(marked, shape))
                ax.plot(x0 + wrong_cols, top + wrong_rows, linestyle="none", marker="x", color="black",
                        markersize=3, markeredgewidth=0.8)
            ax.add_patch(plt.Rectangle((x0 - 0.5, top - 0.5), cols, rows, fill=False, linewidth=0.6,
                                       edgecolor="0.45"))
        n_wrong = int(wrong[i].sum())
        name = "" if labels is None else f"{labels[i]}: "
        ax.text(left + pair_width / 2 - 0.5, top - 0.9, f"{name}{n_wrong}", ha="center", va="bottom",
                fontsize=9, color=WRONG_TEXT_COLOR if n_wrong else "black")
    ax.imshow(canvas, interpolation="nearest")
    ax.set_xlim(-1, width)
    ax.set_ylim(height - row_gap, -0.5)
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.tight_layout(pad=0.2)
    return fig


# Ten colours for ten classes: the hues of Paul Tol's colour-blind-safe "muted" scheme plus a
# grey, darkened where needed (cyan, teal, olive, sand, rose, grey) to a contrast of at least
# 4.5:1 on white, since plot_labelled_codes draws them as characters; the sand became a brown to
# stay apart from the olive. Each point is its class's character too, so no reader has to tell
# the colours apart.
CLASS_COLORS = ("#332288", "#197CAD", "#338073", "#117733", "#757527",
                "#8C5A1E", "#C34B5F", "#882255", "#AA4499", "#747474")


def plot_labelled_codes(Z, labels, ax=None, title="Codes", fontsize=7):
    """2-D codes Z: (n, 2), each drawn as its label's text in that class's colour.

    labels: (n,) small integers (e.g. digits 0-9) or strings; colours follow ``CLASS_COLORS``.
    Returns the matplotlib Figure.
    """
    Z = _rows(Z, "Z")
    if Z.shape[1] != 2:
        raise ValueError(f"Z must have shape (n, 2) to draw a plane, got {Z.shape}")
    one_per(labels, "labels", len(Z), "code of Z")
    if not np.isfinite(Z).all():
        raise ValueError("Z must contain only finite numbers to set the plane's limits")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 5))
    else:
        fig = ax.figure
    labels = np.asarray(labels)
    # One scatter per class with the label's text as marker: far faster to draw than a text per point.
    for k, label in enumerate(sorted(set(labels.tolist()))):
        points = Z[labels == label]
        ax.scatter(points[:, 0], points[:, 1], marker=f"${label}$", s=(1.3 * fontsize) ** 2,
                   color=CLASS_COLORS[k % len(CLASS_COLORS)], linewidths=0.3)
    margin = 0.05 * (Z.max(axis=0) - Z.min(axis=0))
    ax.set_xlim(Z[:, 0].min() - margin[0], Z[:, 0].max() + margin[0])
    ax.set_ylim(Z[:, 1].min() - margin[1], Z[:, 1].max() + margin[1])
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig


def plot_tile_rows(rows, row_labels=None, titles=None, ax=None, title=None, gap=1, label_room=0):
    """Rows of glyphs tiled into one picture on a single axes (fast to draw, unlike a grid of axes).

    rows: list of (n, n_features) arrays, all with the same n; row_labels: one name per row,
    written at the left; titles: optional (n_rows, n) texts written above each glyph (set
    ``label_room``, in pixels, to make space for them). Returns the matplotlib Figure.
    """
    rows = _aligned_rows(rows)
    n = len(rows[0])
    shape = glyph_shape(rows[0].shape[1])
    height, width = shape
    if row_labels:
        row_labels = one_per(row_labels, "row_labels", len(rows), "row")
    if titles is not None:
        titles = one_per(titles, "titles", len(rows), "row")
        titles = [one_per(row_titles, f"titles[{r}]", n, "glyph of a row") for r, row_titles in enumerate(titles)]
    gap, label_room = _pixels(gap, "gap"), _pixels(label_room, "label_room")
    row_height = label_room + height + gap
    canvas = np.full((len(rows) * row_height + gap, n * (width + gap) + gap), 0.2)
    if label_room:
        for r in range(len(rows)):
            canvas[r * row_height + gap:r * row_height + gap + label_room, :] = 0.0
    for r, row in enumerate(rows):
        top = r * row_height + gap + label_room
        for k, x in enumerate(row):
            left = gap + k * (width + gap)
            canvas[top:top + height, left:left + width] = np.reshape(np.clip(x, 0.0, 1.0), shape)
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.5 * n + (1.3 if row_labels else 0.2),
                                        0.5 * len(rows) * row_height / height + (0.4 if title else 0.1)))
    else:
        fig = ax.figure
    ax.imshow(canvas, cmap=PIXEL_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    centres = [r * row_height + gap + label_room + (height - 1) / 2 for r in range(len(rows))]
    ax.set_yticks(centres if row_labels else [], row_labels if row_labels else [], fontsize=9)
    ax.tick_params(length=0)
    if titles is not None:
        for r, row_titles in enumerate(titles):
            for k, text in enumerate(row_titles):
                ax.text(gap + k * (width + gap) + (width - 1) / 2, r * row_height + gap + label_room / 2 - 0.5,
                        str(text), ha="center", va="center", fontsize=8)
    if title is not None:
        ax.set_title(title)
    return fig
