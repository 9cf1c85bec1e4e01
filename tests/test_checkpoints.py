"Every single-byte corruption of a checkpoint is refused with CheckpointError (trainer untouched) or loads the original state."
import numpy as np

from accel_nb.nn import MLP
from accel_nb.optim import Adam
from accel_nb.train import Checkpoint, CheckpointError, EarlyStopping, Evaluate, Trainer


def _trainer(X, y):
    model = MLP([8, 16, 3], seed=0)
    return Trainer(model, Adam(model.param_groups({"*.b": {"weight_decay": 0.0}}), lr=1e-2, weight_decay=1e-2), X, y,
                   batch_size=16, seed=0, callbacks=[Evaluate(X[:20], y[:20]), EarlyStopping(patience=3)])


def test_every_byte_flip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 8)).astype(np.float32); y = rng.integers(0, 3, 64)
    tr = _trainer(X, y); tr.fit(2); tr.save_checkpoint(tmp_path / "good.npz")
    good = (tmp_path / "good.npz").read_bytes()
    ref = _trainer(X, y); ref.load_checkpoint(tmp_path / "good.npz")
    start = _trainer(X, y).model.params.copy()
    refused = identical = 0
    for pos in range(len(good)):
        damaged = bytearray(good); damaged[pos] ^= 0xFF
        (tmp_path / "bad.npz").write_bytes(bytes(damaged))
        fresh = _trainer(X, y)
        try:
            fresh.load_checkpoint(tmp_path / "bad.npz")
        except CheckpointError:
            assert (fresh.step, fresh.opt.t) == (0, 0) and np.array_equal(fresh.model.params, start), pos
            refused += 1
            continue
        assert np.array_equal(fresh.model.params, ref.model.params), pos
        assert (fresh.step, fresh.epoch, fresh.opt.t) == (ref.step, ref.epoch, ref.opt.t), pos
        for a, b in zip(fresh.opt.state, ref.opt.state):
            assert all(np.array_equal(a[k], b[k]) for k in a if not k.startswith("_")), pos
        identical += 1
    assert refused + identical == len(good) and refused > 0.9 * len(good), (refused, identical)
