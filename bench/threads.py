"""Give numpy's BLAS and PyTorch the same number of threads.

Thread pools are sized when a library is loaded, so ``limit_threads`` must run before numpy or
torch is imported; this module imports neither. The environment is inherited by the
subprocesses that measure memory, so they run with the same limits.
"""
import os

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Variables that change which OpenBLAS kernel numpy runs; recorded with the results, never set.
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def limit_threads(n_threads):
    """Set every thread-count variable to n_threads (an int >= 1, or None for all cores)."""
    n_threads = n_threads or os.cpu_count() or 1
    for name in THREAD_VARIABLES:
        os.environ[name] = str(n_threads)
    return n_threads


def apply_to_torch(n_threads):
    """PyTorch reads its own setting as well as OMP_NUM_THREADS: set it explicitly."""
    import torch

    torch.set_num_threads(n_threads)
    return torch.get_num_threads()
