"""Interactive explorers that compute in the page: the latent explorer and the noise playground.

Why plain HTML and JavaScript rather than ipywidgets: a callback widget (``interact``) needs a
running kernel, so on the book's website its sliders move and nothing redraws; custom widget
libraries (anywidget) need a widget manager and a CDN, which fails offline and on Colab's own
ipywidgets. The decoders of this book are tiny (a few thousand weights), so each explorer is an
HTML snippet that carries the trained weights (float64, base64, so they arrive bit for bit) and a
forward pass of a few lines that runs on every ``input`` event of native ``<input type=range>`` and
``<select>`` controls. The same cell output works on the static site, in JupyterLab, in VS Code
and on Colab, with no kernel and no network, and it is operable by keyboard with visible labels.

The page's program is ``aelib/explorers.js``, shipped with the package. Its forward pass is
``MLP._forward`` written again in JavaScript: ``A = H W + b`` per layer, then the layer's
activation, with the sigmoid written as ``(1 + tanh(a / 2)) / 2`` as in ``aelib.activations``.
tests/test_widgets.py runs it under Node against aelib, and the browser test checks that the page
draws what ``model.decode`` computes. The latent explorer writes each marked code's name near it,
inside the plane and over no other name (``layoutLabels``); a name with no room left is listed
in the plane's text alternative instead.
"""
import base64
import html
from importlib import resources
import json
import numbers
import uuid

import numpy as np

from .encoder_decoder import EncoderDecoder
from .mlp import MLP
from .plots import glyph_shape
from .vae import VAE
from .validation import as_data_matrix, as_shape

NOISE_KINDS = ("salt-and-pepper", "Gaussian")
# Colours of the Okabe-Ito palette (safe for colour-blind readers); both have a contrast of at
# least 4.5:1 on white, so text drawn in them stays readable.
MARK_COLOR = "#0072B2"  # blue: the reference codes and their labels
POINT_COLOR = "#B34700"  # dark vermilion: the current code, also drawn as a cross (not colour alone)
ACTIVATIONS_IN_JS = ("identity", "sigmoid", "tanh", "relu")


def _stage(mlp, take=None):
    """One network of the page's forward pass: sizes, activations and the flat float64 weights."""
    if any(name not in ACTIVATIONS_IN_JS for name in mlp.activations):
        raise ValueError(f"the page can compute only the activations {ACTIVATIONS_IN_JS}, got {mlp.activations}")
    weights = np.ascontiguousarray(mlp.flat_params, dtype="<f8").tobytes()
    return {"sizes": list(mlp.sizes), "activations": list(mlp.activations),
            "weights": base64.b64encode(weights).decode("ascii"), "take": take}


def _network(function, argument, method_names):
    """The networks behind a model's bound method, e.g. ``ae.decode`` -> [decoder].

    The page runs the networks themselves, so only methods whose computation is known can be
    shown: ``decode`` and ``reconstruct`` of ``Autoencoder``/``VAE`` and ``MLP.forward``.
    """
    if isinstance(function, (EncoderDecoder, MLP)):
        method = " or ".join(f"{argument} = model.{name}" for name in method_names)
        raise TypeError(f"{argument} must be a function such as model.{method_names[0]}, got the "
                        f"{type(function).__name__} itself; pass {method}")
    if not callable(function):
        raise TypeError(f"{argument} must be a function such as model.{method_names[0]}, got {function!r}")
    owner, name = getattr(function, "__self__", None), getattr(function, "__name__", None)
    if isinstance(owner, MLP) and name == "forward":
        return [_stage(owner)]
    if isinstance(owner, EncoderDecoder) and name in method_names:
        if name == "decode":
            return [_stage(owner.decoder)]
        # reconstruct: the encoder, then the decoder; a VAE decodes the mean, the first half.
        take = owner.n_latent if isinstance(owner, VAE) else None
        return [_stage(owner.encoder, take), _stage(owner.decoder)]
    raise TypeError(
        f"{argument} must be the {' or '.join(method_names)} method of an aelib model (e.g. "
        f"model.{method_names[0]}) or an MLP's forward, because the page runs that network itself "
        f"with no Python kernel; got {function!r}")


def forward(network, Z):
    """What the page computes, in numpy: the networks of ``network`` applied to Z: (m, n_inputs)."""
    H = np.asarray(Z, dtype=np.float64)
    for stage in network:
        mlp = MLP(stage["sizes"], stage["activations"], seed=0)
        mlp.flat_params[...] = np.frombuffer(base64.b64decode(stage["weights"]), dtype="<f8")
        H = mlp.forward(H)
        if stage["take"] is not None:
            H = H[:, :stage["take"]]
    return H


def _check_agrees(function, network, Z, argument):
    # The page's network must compute what the function computes (a guard against a patched
    # method or a subclass whose decode does more than its decoder).
    expected, computed = function(Z), forward(network, Z)
    if np.shape(expected) != computed.shape or not np.allclose(expected, computed, rtol=0, atol=1e-9):
        raise ValueError(f"{argument} does not compute what its network computes, so the page could not "
                         "show it faithfully")


def _extent(extent, step):
    if isinstance(step, bool) or not isinstance(step, numbers.Real) or not step > 0:
        raise ValueError(f"step must be a positive number, got {step!r}")
    try:
        values = [float(value) for value in extent]
    except (TypeError, ValueError):
        raise TypeError(f"extent must be 4 numbers (z1_min, z1_max, z2_min, z2_max), got {extent!r}") from None
    if len(values) != 4 or not all(np.isfinite(values)) or values[0] >= values[1] or values[2] >= values[3]:
        raise ValueError(f"extent must be (z1_min, z1_max, z2_min, z2_max) with min < max, got {extent!r}")
    # Slider values are whole multiples of ``step``, so the readout and the decoded code agree.
    low = [np.floor(values[0] / step), np.floor(values[2] / step)]
    high = [np.ceil(values[1] / step), np.ceil(values[3] / step)]
    return [int(low[0]), int(high[0]), int(low[1]), int(high[1])]


def _json_for_script(data):
    # Inside <script type="application/json"> only "</" could end the element early.
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


class _Explorer:
    """An explorer is its HTML; notebooks display it through ``_repr_html_``."""

    kind = None

    def __init__(self, spec):
        self.spec = spec
        self.id = f"aelib-{self.kind}-{uuid.uuid4().hex[:12]}"

    def _repr_html_(self):
        return (f'<div class="aelib-explorer aelib-{self.kind}" id="{self.id}">'
                f'<script type="application/json" class="aelib-spec">{_json_for_script(self.spec)}</script>'
                f"<style>{_CSS}</style>{self._controls()}"
                f'<noscript>This explorer needs JavaScript.</noscript></div>'
                f"<script>{_JS}\naelibExplorers.{self.kind}(document.getElementById({json.dumps(self.id)}));</script>")


class LatentExplorer(_Explorer):
    kind = "latent"

    def __repr__(self):
        lo, hi = np.array(self.spec["range"][::2]), np.array(self.spec["range"][1::2])
        step = self.spec["step"]
        return (f"LatentExplorer(z1 in [{lo[0] * step:g}, {hi[0] * step:g}], z2 in [{lo[1] * step:g}, "
                f"{hi[1] * step:g}], step {step:g}, {int(np.prod(self.spec['shape']))} pixels)")

    def _controls(self):
        rows = []
        for axis, (low, high) in enumerate(zip(self.spec["range"][::2], self.spec["range"][1::2])):
            step = self.spec["step"]
            value = self.spec["start"][axis]
            rows.append(
                f'<div class="aelib-control"><label for="{self.id}-z{axis + 1}">z<sub>{axis + 1}</sub></label>'
                f'<input type="range" id="{self.id}-z{axis + 1}" data-axis="{axis}" min="{low * step:.10g}" '
                f'max="{high * step:.10g}" step="{step:.10g}" value="{value:.10g}">'
                f'<output for="{self.id}-z{axis + 1}"></output></div>')
        return (f'<div class="aelib-controls">{"".join(rows)}</div>'
                '<div class="aelib-pictures"><canvas class="aelib-plane" role="img" width="300" height="300" '
                'aria-label="The latent plane"></canvas>'
                '<canvas class="aelib-glyph" role="img" aria-label="The decoded picture"></canvas></div>'
                '<p class="aelib-readout" aria-live="polite"></p>')


class NoisePlayground(_Explorer):
    kind = "playground"

    def __repr__(self):
        return f"NoisePlayground({len(self.spec['clean'])} glyphs, noise kinds {self.spec['kinds']})"

    def _controls(self):
        options = "".join(f'<option value="{html.escape(kind)}">{html.escape(kind)}</option>'
                          for kind in self.spec["kinds"])
        return ('<div class="aelib-controls">'
                f'<div class="aelib-control"><label for="{self.id}-kind">noise</label>'
                f'<select id="{self.id}-kind">{options}</select></div>'
                f'<div class="aelib-control"><label for="{self.id}-level" class="aelib-level-label">level</label>'
                f'<input type="range" id="{self.id}-level" min="0" max="1" step="0.05" '
                f'value="{self.spec["level"]:.10g}"><output for="{self.id}-level"></output></div>'
                '<div class="aelib-control"><button type="button">new noise</button></div></div>'
                '<div class="aelib-pictures"><canvas class="aelib-rows" role="img" '
                'aria-label="Clean, noisy and denoised glyphs"></canvas></div>'
                '<p class="aelib-readout" aria-live="polite"></p>')


def latent_explorer(decode, Z_marked=None, labels=None, extent=(-3, 3, -3, 3), shape=None, step=0.05):
    """Two sliders (z1, z2) that redraw decode([[z1, z2]]) live, beside the latent plane.

    decode: a model's decode method, e.g. ``ae.decode`` or ``vae.decode`` (a 2-D code), Z (m, 2)
    -> X_hat (m, n_features); the page runs that decoder itself. Z_marked: (n, 2) codes drawn on
    the plane as their ``labels`` (n strings); clicking the plane also moves the point.
    extent: (z1_min, z1_max, z2_min, z2_max), widened to whole steps. Returns a LatentExplorer,
    which a notebook displays as the live explorer.
    """
    network = _network(decode, "decode", ("decode",))
    if network[0]["sizes"][0] != 2:
        raise ValueError(f"decode must take 2-D codes to be explored on a plane, its network takes "
                         f"{network[0]['sizes'][0]}")
    grid = _extent(extent, step)
    start = [round((grid[0] + grid[1]) / 2) * step, round((grid[2] + grid[3]) / 2) * step]
    _check_agrees(decode, network, np.array([start]), "decode")
    n_features = network[-1]["sizes"][-1]
    shape = as_shape(shape, "shape", n_features) if shape is not None else glyph_shape(n_features)
    marked, names = [], []
    if Z_marked is not None:
        Z_marked = as_data_matrix(Z_marked, "Z_marked", 2)
        names = [str(label) for label in labels] if labels is not None else [""] * len(Z_marked)
        if len(names) != len(Z_marked):
            raise ValueError(f"labels must name each of the {len(Z_marked)} codes of Z_marked, got {len(names)}")
        marked = [[round(float(a), 6), round(float(b), 6)] for a, b in Z_marked]
    elif labels is not None:
        raise ValueError("labels name the codes of Z_marked; pass Z_marked too")
    return LatentExplorer({"network": network, "shape": list(shape), "range": grid, "step": float(step),
                           "start": start, "marked": marked, "labels": names,
                           "colors": {"mark": MARK_COLOR, "point": POINT_COLOR}})


def noise_playground(X, denoisers, labels=None, noises=NOISE_KINDS, seed=0, shape=None, level=0.2):
    """A noise kind, a level slider and a "new noise" button; redraws clean / noisy / denoised rows.

    X: (n_glyphs, n_features) the clean glyphs to corrupt (about 9 read well).
    denoisers: dict kind -> a model's reconstruct method (e.g. ``dae.reconstruct``), one per kind
    of ``noises``: "salt-and-pepper" (level = p: each pixel replaced by 0 or 1 with probability p)
    and "Gaussian" (level = sigma: N(0, sigma^2) added). The page draws the noise with a seeded
    generator of its own (the same distributions as ``aelib.noise``) and runs the denoisers itself.
    Returns a NoisePlayground, which a notebook displays as the live playground.
    """
    X = as_data_matrix(X, "X")
    if isinstance(noises, str) or not all(kind in NOISE_KINDS for kind in noises) or not noises:
        raise ValueError(f"noises must be a list of noise kinds from {NOISE_KINDS}, got {noises!r}")
    if not isinstance(denoisers, dict):
        raise TypeError(f"denoisers must be a dict noise kind -> model.reconstruct, got {type(denoisers).__name__}")
    missing = [kind for kind in noises if kind not in denoisers]
    if missing:
        raise ValueError(f"denoisers needs one function per noise kind; missing {missing}")
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 <= level <= 1:
        raise ValueError(f"level must be a number in [0, 1], got {level!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    networks = {}
    for kind in noises:
        network = _network(denoisers[kind], f"denoisers[{kind!r}]", ("reconstruct", "forward"))
        if network[0]["sizes"][0] != X.shape[1] or network[-1]["sizes"][-1] != X.shape[1]:
            raise ValueError(f"denoisers[{kind!r}] must map {X.shape[1]} pixels to {X.shape[1]}")
        _check_agrees(denoisers[kind], network, X[:1], f"denoisers[{kind!r}]")
        networks[kind] = network
    shape = as_shape(shape, "shape", X.shape[1]) if shape is not None else glyph_shape(X.shape[1])
    names = [str(label) for label in labels] if labels is not None else [""] * len(X)
    if len(names) != len(X):
        raise ValueError(f"labels must name each of the {len(X)} glyphs of X, got {len(names)}")
    return NoisePlayground({"networks": networks, "kinds": list(noises), "clean": X.tolist(), "labels": names,
                            "shape": list(shape), "seed": int(seed), "level": round(float(level) / 0.05) * 0.05,
                            "colors": {"mark": MARK_COLOR, "point": POINT_COLOR}})


_CSS = """
.aelib-explorer{margin:0.5em 0 1em;font-size:0.95rem}
.aelib-explorer .aelib-controls{display:flex;flex-wrap:wrap;gap:0.4em 1.5em;align-items:center;margin-bottom:0.5em}
.aelib-explorer .aelib-control{display:flex;align-items:center;gap:0.5em}
.aelib-explorer label{font-weight:600}
.aelib-explorer input[type=range]{width:12em;accent-color:#0072B2}
.aelib-explorer output{font-variant-numeric:tabular-nums;min-width:3.5em}
.aelib-explorer select,.aelib-explorer button{font:inherit;padding:0.15em 0.6em;color:#000;background:#fff;
  border:1px solid #555;border-radius:4px}
.aelib-explorer input:focus-visible,.aelib-explorer select:focus-visible,.aelib-explorer button:focus-visible,
.aelib-explorer canvas:focus-visible{outline:3px solid #0072B2;outline-offset:2px}
.aelib-explorer .aelib-pictures{display:flex;flex-wrap:wrap;gap:1em;align-items:center}
.aelib-explorer canvas{background:#fff;border:1px solid #767676;max-width:100%;height:auto}
.aelib-explorer .aelib-plane{cursor:crosshair}
.aelib-explorer .aelib-readout{margin:0.4em 0 0}
"""

# The page's program, in its own file (aelib/explorers.js, shipped with the package): one
# definition per page, shared by every explorer on it. Each output carries it so that it is
# self-contained (Colab shows each output in its own frame).
_JS = resources.files("aelib").joinpath("explorers.js").read_text(encoding="utf-8")
