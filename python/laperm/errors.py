"""The package's exceptions: every input it cannot read or understand raises LapermError
with a message naming the file, dataset, layer or line and what was expected."""


class LapermError(Exception):
    """Input that cannot be read or understood (a file, a model text, data, an argument)."""


class InvariantError(LapermError):
    """A snapshot does not rebuild a permutation of /init, or the last snapshot does not
    rebuild /weights bit for bit (README, "Groups and the ranking formula")."""
