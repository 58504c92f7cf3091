"""The explorers: what they carry to the page, and their argument checks.

The page's JavaScript forward pass is compared with aelib in tests/test_book_browser.py; here the
weights the page receives and the numpy twin of its forward pass (``aelib.widgets.forward``) are
checked against the models themselves.
"""
import re

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
