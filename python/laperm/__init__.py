"""laperm's Python package: read results files, rebuild any snapshot's network bit for
bit, evaluate it with numpy (or PyTorch), load laperm's datasets. h5py and numpy only;
torch and matplotlib are optional. From the repository root, with no install:

    PYTHONPATH=python /usr/bin/python3 -m laperm evaluate results/run.h5

    import laperm
    run = laperm.open("results/run.h5")
    net = run.network(epoch=3)
    x, y = laperm.data.load("mnist", "data/mnist", run=run)
    print((net.predict(x) == y).mean())

See README, "Python package".
"""
from . import data, model  # noqa: F401
from .errors import InvariantError, LapermError  # noqa: F401
from .evaluation import evaluate  # noqa: F401
from .network import Network  # noqa: F401
from .results import Run, Snapshot, open  # noqa: F401,A001

__all__ = ["open", "Run", "Snapshot", "Network", "evaluate", "data", "model", "LapermError",
           "InvariantError"]
