"""aelib: autoencoders from scratch, in numpy.

Floors, each using only the ones below it:
1. ``data``, ``noise``, ``validation``, ``evaluation``, ``shapes``, ``recovery`` -- datasets, corruptions,
   held-out measures, the shape of a glyph, the measures of sparse codes, plain numpy;
2. ``activations``, ``losses``, ``likelihoods`` -- functions with their derivatives;
3. ``mlp``, ``optim`` -- the network with its hand-written backward pass, and optimizers;
4. ``encoder_decoder``, ``autoencoder``, ``vae``, ``conditional_vae``, ``training``, ``serialization`` -- the models;
   ``superposition`` (the toy model), ``sparse`` (the sparse autoencoder), ``classifier``;
   ``baselines`` -- PCA and the blurs they are measured against;
5. ``denoising``, ``plots``, ``widgets``, ``checks``, ``gradcheck`` -- the reader's side: the Bayes
   ceiling of denoising, figures, explorers, exercise feedback and gradient checks.
"""
from .activations import identity, relu, sigmoid, tanh
from .autoencoder import Autoencoder
from .classifier import Classifier
from .data import load_emojis, load_font, load_font_digits, load_glyphs
from .data import load_digits
from .evaluation import knn_predict, knn_votes, nearest_neighbors, roc_auc, roc_curve, train_test_split
from .baselines import PCA, gaussian_blur, median_filter
from .denoising import bayes_ceiling, bayes_denoise, exact_recovery_rate, nearest_glyph, recovery_curves, recovery_rates
from .gradcheck import gradient_check, numerical_gradient, relative_error
from .losses import binary_cross_entropy, bce_with_logits, mse, one_hot, softmax, softmax_cross_entropy
from .mlp import MLP
from .noise import gaussian_noise, salt_and_pepper
from .optim import SGD, Adam
from .recovery import dead_latents, feature_recovery, fraction_of_variance_unexplained, l0, latent_density
from .sparse import SparseAutoencoder
from .superposition import ToyModel, random_directions, sparse_features
from .training import TrainingDivergedError
from .vae import VAE
from .conditional_vae import ConditionalVAE
from . import checks, likelihoods, plots, shapes, widgets

__version__ = "0.1.0"
