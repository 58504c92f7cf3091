"""Feedback for the exercises: each ``check_*`` prints a success line or raises an AssertionError
that says which input failed, what was expected, what your code gave, and a hint."""
from .mlp import *
from .denoising import *
from .vae import *
from .autoencoder import *
from .digits import *
from .sparse import *
from .honest_vae import *
