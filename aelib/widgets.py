"""Interactive explorers for the notebooks (ipywidgets). In the static book, figures stand in for them."""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .denoising import exact_recovery_rate
from .noise import gaussian_noise, salt_and_pepper
from .plots import draw_glyph, glyph_shape, plot_rows


def latent_explorer(decode, Z_marked=None, labels=None, extent=(-3, 3, -3, 3), shape=None, step=0.05):
    """Two sliders (z1, z2) that redraw decode([[z1, z2]]) live, beside the latent plane.

    decode: function Z (m, 2) -> X_hat (m, n_features). Z_marked: (n, 2) codes to show as
    reference points with their ``labels``. Returns the ``interactive`` widget.
    """
    # Slider values are multiples of ``step``, so the slider's readout and the title agree.
    extent = [np.floor(extent[0] / step) * step, np.ceil(extent[1] / step) * step,
              np.floor(extent[2] / step) * step, np.ceil(extent[3] / step) * step]

    def show(z1, z2):
        x_hat = decode(np.array([[z1, z2]]))[0]
        fig, (ax_plane, ax_glyph) = plt.subplots(1, 2, figsize=(7.5, 3.6), gridspec_kw={"width_ratios": [1.4, 1]})
        if Z_marked is not None:
            ax_plane.scatter(Z_marked[:, 0], Z_marked[:, 1], s=10, color="C0", alpha=0.4)
            for (a, b), label in zip(Z_marked, labels if labels is not None else [""] * len(Z_marked)):
                ax_plane.annotate(label, (a, b), fontsize=9, ha="center", va="center", color="C0")
        ax_plane.plot([z1], [z2], marker="x", color="C3", markersize=12, mew=3)
        ax_plane.set_xlim(extent[0], extent[1])
        ax_plane.set_ylim(extent[2], extent[3])
        ax_plane.set_xlabel("$z_1$")
        ax_plane.set_ylabel("$z_2$")
        ax_plane.set_title("latent plane")
        draw_glyph(ax_glyph, x_hat, shape or glyph_shape(x_hat.size), title=f"decoded at ({z1:.2f}, {z2:.2f})")
        fig.tight_layout()
        plt.show()

    z1 = widgets.FloatSlider(value=round((extent[0] + extent[1]) / 2 / step) * step, min=extent[0], max=extent[1], step=step,
                             description="z1", continuous_update=True)
    z2 = widgets.FloatSlider(value=round((extent[2] + extent[3]) / 2 / step) * step, min=extent[2], max=extent[3], step=step,
                             description="z2", continuous_update=True)
    return widgets.interactive(show, z1=z1, z2=z2)


def noise_playground(X, denoisers, labels=None, noises=None, seed=0, shape=None):
    """A noise kind, a level slider and a resample button; redraws clean / noisy / denoised rows.

    X: (n_glyphs, n_features) the clean glyphs to corrupt (about 9 read well).
    denoisers: dict kind -> function X_noisy -> X_hat, one per noise kind.
    noises: dict kind -> function (X, level, rng) -> X_noisy; by default "salt-and-pepper"
    (level = p) and "Gaussian" (level = sigma). Returns the widget.
    """
    X = np.asarray(X, dtype=np.float64)
    if noises is None:
        noises = {"salt-and-pepper": lambda X, level, rng: salt_and_pepper(X, p=level, rng=rng),
                  "Gaussian": lambda X, level, rng: gaussian_noise(X, sigma=level, rng=rng)}
    missing = [kind for kind in noises if kind not in denoisers]
    if missing:
        raise ValueError(f"denoisers needs one function per noise kind; missing {missing}")
    kind = widgets.Dropdown(options=list(noises), description="noise")
    level = widgets.FloatSlider(value=0.2, min=0.0, max=1.0, step=0.05, description="p or sigma",
                                continuous_update=False, style={"description_width": "initial"})
    resample = widgets.Button(description="resample", icon="refresh")
    output = widgets.Output()
    draws = 0

    def redraw(*_):
        rng = np.random.default_rng([seed, draws])
        X_noisy = noises[kind.value](X, level.value, rng)
        X_hat = denoisers[kind.value](X_noisy)
        recovered = round(exact_recovery_rate(X_hat, X) * len(X))
        with output:
            output.clear_output(wait=True)
            symbol = {"salt-and-pepper": "$p$", "Gaussian": r"$\sigma$"}.get(kind.value, "level")
            plot_rows([X, X_noisy, X_hat], ["clean", "noisy", "denoised"], shape=shape, labels=labels,
                      cell_size=min(0.8, 5.8 / len(X)),
                      title=f"{kind.value}, {symbol} = {level.value:.2f}: {recovered} of {len(X)} recovered exactly")
            plt.show()

    def new_noise(_):
        nonlocal draws
        draws += 1
        redraw()

    kind.observe(redraw, names="value")
    level.observe(redraw, names="value")
    resample.on_click(new_noise)
    redraw()
    return widgets.VBox([widgets.HBox([kind, level, resample]), output])
