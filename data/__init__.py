"""The book's datasets as readable text; installed as the package ``aelib.datasets``."""
