"""The explorers: what they carry to the page, and their argument checks.

The page's program (aelib/explorers.js) runs here under Node: its forward pass against aelib's, and
its layout of the marked codes' names (none over another, none cut at the edge). The browser test
(tests/test_book_browser.py) compares what the built pages draw with aelib; here the weights the
page receives and the numpy twin of its forward pass (``aelib.widgets.forward``) are checked
against the models themselves.
"""
import json
import re
import shutil
import subprocess
from importlib import resources

import numpy as np
import pytest

import aelib
from aelib.widgets import forward, latent_explorer, noise_playground

X_FONT, LABELS = aelib.load_font()


@pytest.fixture(scope="module")
def ae():
    return aelib.Autoencoder([35, 12, 2], seed=0)


@pytest.fixture(scope="module")
def vae():
    return aelib.VAE([144, 16, 2], seed=0)


def test_the_page_receives_the_decoder_bit_for_bit(ae):
    explorer = latent_explorer(ae.decode, ae.encode(X_FONT), LABELS)
    (stage,) = explorer.spec["network"]
    assert stage["sizes"] == [2, 12, 35] and stage["activations"] == ["tanh", "sigmoid"]
    Z = np.random.default_rng(0).uniform(-3, 3, (20, 2))
    np.testing.assert_array_equal(forward(explorer.spec["network"], Z), ae.decode(Z))
    assert explorer.spec["labels"] == list(LABELS)


def test_the_page_reconstructs_like_the_models(ae, vae):
    E = aelib.load_emojis()[0][:5]
    for model, X in ((ae, X_FONT[:9]), (vae, E)):
        playground = noise_playground(X, {"salt-and-pepper": model.reconstruct, "Gaussian": model.reconstruct})
        for network in playground.spec["networks"].values():
            np.testing.assert_allclose(forward(network, X), model.reconstruct(X), rtol=0, atol=1e-12)


def test_the_page_knows_every_activation_of_aelib():
    assert set(aelib.widgets.ACTIVATIONS_IN_JS) == set(aelib.activations.ACTIVATIONS)
    for name in aelib.activations.ACTIVATIONS:
        assert f"{name}:" in aelib.widgets._JS.replace(" ", "").replace("tanh:Math.tanh", "tanh:")


def test_a_model_instead_of_its_decode_method_is_a_type_error(ae):
    with pytest.raises(TypeError, match=r"decode must be a function such as model\.decode.*Autoencoder"):
        latent_explorer(ae)
    with pytest.raises(TypeError, match="decode"):
        latent_explorer(lambda Z: Z)
    with pytest.raises(TypeError, match="decode"):
        latent_explorer("ae.decode")


def test_explorer_arguments_are_checked(ae):
    with pytest.raises(ValueError, match="extent"):
        latent_explorer(ae.decode, extent=(1, -1, 0, 1))
    with pytest.raises(ValueError, match="step"):
        latent_explorer(ae.decode, step=0)
    with pytest.raises(ValueError, match="labels"):
        latent_explorer(ae.decode, ae.encode(X_FONT), LABELS[:3])
    with pytest.raises(ValueError, match="shape"):
        latent_explorer(ae.decode, shape=(6, 6))
    with pytest.raises(ValueError, match="2-D codes"):
        latent_explorer(aelib.Autoencoder([35, 3], seed=0).decode)


def test_noise_playground_arguments_are_checked(ae):
    with pytest.raises(ValueError, match="Gaussian"):
        noise_playground(X_FONT[:9], {"salt-and-pepper": ae.reconstruct})
    with pytest.raises(TypeError, match="reconstruct"):
        noise_playground(X_FONT[:9], {"salt-and-pepper": lambda X: X, "Gaussian": ae.reconstruct})
    with pytest.raises(ValueError, match="noises"):
        noise_playground(X_FONT[:9], {"speckle": ae.reconstruct}, noises=["speckle"])
    with pytest.raises(ValueError, match="level"):
        noise_playground(X_FONT[:9], {"Gaussian": ae.reconstruct}, noises=["Gaussian"], level=2)
    with pytest.raises(ValueError, match="35 pixels"):
        vae = aelib.VAE([144, 8, 2], seed=0)
        noise_playground(X_FONT[:9], {"Gaussian": vae.reconstruct}, noises=["Gaussian"])


def test_every_control_has_a_visible_label(ae):
    for explorer in (latent_explorer(ae.decode),
                     noise_playground(X_FONT[:9], {"salt-and-pepper": ae.reconstruct, "Gaussian": ae.reconstruct})):
        page = explorer._repr_html_()
        controls = re.findall(r'<(?:input|select)[^>]* id="([^"]+)"', page)
        labelled = re.findall(r'<label for="([^"]+)"[^>]*>[^<]+', page)
        assert controls and set(controls) <= set(labelled)
        assert 'aria-live="polite"' in page and 'role="img"' in page
        # Each output is self-contained: its own data, its own script, and no external request.
        assert "src=" not in page and "http" not in page


# --- The page's program, run under Node ----------------------------------------------------------

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed, so the explorers' JavaScript "
                                                     "(aelib/explorers.js) is not run here")


def run_javascript(program, data):
    """Run ``program`` under Node with ``explorers`` bound to aelib/explorers.js and ``data`` parsed
    from standard input; returns what it prints, parsed as JSON."""
    source = resources.files("aelib").joinpath("explorers.js")
    with resources.as_file(source) as path:
        script = ("const explorers = require(process.argv[1]);\n"
                  "const data = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n" + program)
        result = subprocess.run([NODE, "-e", script, str(path)], input=json.dumps(data), capture_output=True,
                                text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_program_is_a_file_of_the_package():
    source = resources.files("aelib").joinpath("explorers.js").read_text(encoding="utf-8")
    assert aelib.widgets._JS == source and "function forward(network, input)" in source
    assert "</" not in source  # it is embedded in a <script> element


@needs_node
def test_the_javascript_forward_pass_computes_what_aelib_computes():
    mlp = aelib.MLP([3, 5, 4, 3, 2], ["relu", "tanh", "identity", "sigmoid"], seed=0)
    vae = aelib.VAE([6, 4, 2], activation="tanh", seed=1)
    rng = np.random.default_rng(2)
    cases = [(aelib.widgets._network(mlp.forward, "f", ("forward",)), rng.normal(size=(8, 3)), mlp.forward),
             (aelib.widgets._network(vae.reconstruct, "f", ("reconstruct",)), rng.random((8, 6)), vae.reconstruct)]
    for network, X, function in cases:
        computed = run_javascript("console.log(JSON.stringify(data.X.map(x => explorers.forward(data.network, x))));",
                                  {"network": network, "X": X.tolist()})
        np.testing.assert_allclose(np.array(computed), function(X), rtol=0, atol=1e-12)


# The codes of chapter 3's explorer (the means of the 32 emojis, the stored output of its
# latent_explorer cell, to two decimals) on its plane from -3 to 3: names crowd the centre, and
# "crying" (2.92, -0.16) and "sun" (0.27, 3.19) sit at and beyond the edge.
EMOJI_CODES = [[-0.05, -0.46], [0.28, 0.14], [1.73, 0.1], [0.28, -1.08], [1.26, 0.82], [1.28, 1.26], [0.21, -0.13],
               [0.87, -0.01], [-0.44, -2.49], [-0.64, -0.72], [-0.62, -0.2], [1.22, 2.1], [0.42, 0.39], [1.58, -1.59],
               [0.83, -0.56], [1.25, -2.53], [2.92, -0.16], [2.75, 0.63], [-0.29, -1.32], [0.72, 1.29], [-0.17, 0.28],
               [0.61, -1.72], [1.66, -0.92], [0.25, -2.42], [-0.21, 1.51], [-1.27, 2.47], [0.27, 3.19], [-1.86, -2.07],
               [-1.56, 0.13], [-1.2, 0.96], [-3.05, 0.86], [-2.57, -0.81]]
# The plane of the latent explorer: a 300-pixel canvas, the frame 34 pixels from its left and
# bottom edges and 8 from the others (toPx in explorers.js).
SIZE, PAD = 300, 34
FRAME = [PAD, 8, SIZE - 8, SIZE - PAD]
CHAR_WIDTH = 8  # bold 13px sans-serif: wider than any of its letters but m and w on average


def to_pixels(Z, low=-3.0, high=3.0):
    Z = np.asarray(Z, dtype=float)
    x = PAD + (Z[:, 0] - low) / (high - low) * (SIZE - PAD - 8)
    y = SIZE - PAD - (Z[:, 1] - low) / (high - low) * (SIZE - PAD - 8)
    return np.column_stack([x, y])


def layout(points, labels):
    return run_javascript(
        "const layout = explorers.layoutLabels(data.points, data.widths, explorers.LABEL_HEIGHT, data.frame);\n"
        "console.log(JSON.stringify({layout, dropped: explorers.droppedNames(data.labels, layout)}));",
        {"points": np.asarray(points).tolist(), "widths": [CHAR_WIDTH * len(label) for label in labels],
         "labels": labels, "frame": FRAME})


def assert_readable(points, labels, result):
    """No name crosses the frame, no two names overlap, each is near its code, and every name not
    drawn is listed for the text alternative."""
    boxes = [place for place in result["layout"] if place["shown"]]
    for place, point, label in zip(result["layout"], points, labels):
        assert place["width"] == CHAR_WIDTH * len(label)
        if not place["shown"]:
            assert label in result["dropped"]
            continue
        left, right = place["x"] - place["width"] / 2, place["x"] + place["width"] / 2
        top, bottom = place["y"] - place["height"] / 2, place["y"] + place["height"] / 2
        assert FRAME[0] - 1e-9 <= left and right <= FRAME[2] + 1e-9, f"{label!r} crosses a side: {place}"
        assert FRAME[1] - 1e-9 <= top and bottom <= FRAME[3] + 1e-9, f"{label!r} crosses the top or bottom: {place}"
        near = np.clip(point, FRAME[:2], FRAME[2:])
        assert abs(place["x"] - near[0]) <= place["width"] / 2 + 4 * place["height"] and \
            abs(place["y"] - near[1]) <= 5 * place["height"], f"{label!r} is far from its code"
    for i, a in enumerate(boxes):
        for b in boxes[:i]:
            apart = (abs(a["x"] - b["x"]) >= (a["width"] + b["width"]) / 2 or
                     abs(a["y"] - b["y"]) >= (a["height"] + b["height"]) / 2)
            assert apart, f"two names overlap: {a} and {b}"
    return boxes


@needs_node
def test_chapter_3s_names_neither_overlap_nor_cross_the_edge():
    names = aelib.load_emojis()[1]
    points = to_pixels(EMOJI_CODES)
    result = layout(points, names)
    boxes = assert_readable(points, names, result)
    shown = {name for name, place in zip(names, result["layout"]) if place["shown"]}
    assert {"crying", "sun"} <= shown
    assert len(boxes) >= 28, f"only {len(boxes)} of 32 names drawn; dropped {result['dropped']}"


@needs_node
@pytest.mark.parametrize("case", ["all-at-the-centre", "random", "at-the-corners", "long-names"])
def test_the_label_layout_keeps_every_name_readable(case):
    rng = np.random.default_rng(3)
    if case == "all-at-the-centre":
        points, labels = np.full((30, 2), SIZE / 2), [f"name{k}" for k in range(30)]
    elif case == "random":
        points, labels = to_pixels(rng.normal(0, 1.5, (60, 2))), [LABELS[k % 27] * (1 + k % 4) for k in range(60)]
    elif case == "at-the-corners":
        points = to_pixels([[-3.5, -3.5], [3.5, 3.5], [-3, 3], [3, -3]] * 3)
        labels = [f"corner{k}" for k in range(12)]
    else:
        points, labels = to_pixels(rng.uniform(-3, 3, (8, 2))), ["x" * 40, "y" * 20] + ["z" * 25] * 6
    result = layout(points, labels)
    assert_readable(points, labels, result)
    if case == "long-names":  # 320 pixels: wider than the frame, so it cannot be drawn whole
        assert result["layout"][0]["shown"] is False and "x" * 40 in result["dropped"]
