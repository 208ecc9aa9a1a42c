"""Experiment 12 (in-lab): one LSTM layer from scratch in NumPy, with a gradient check.

The layer stores its weights exactly as torch.nn.LSTM does (the gates stacked in the
order input, forget, cell, output), so that the post-lab program can copy them into
PyTorch and import this file. Run as a program, it
  (a) runs the forward pass and backpropagation through time (BPTT) of a small LSTM with
      a linear read-out and a squared-error loss on every time step;
  (b) checks every gradient (weights, biases, read-out, inputs and initial state)
      against centred finite differences in float64, array by array: the relative
      error ||a - n|| / (||a|| + ||n||) of every array must be below 1e-6;
  (c) repeats the check for steps eps from 1e-1 to 1e-9, to show why eps ~ 1e-5.
"""

import argparse

import matplotlib.pyplot as plt
import numpy as np

from labreport.record import record


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class LSTMLayer:
    """One LSTM layer; batch-first arrays: x has shape (batch, time, input_size).

    Parameters, with H = hidden_size (PyTorch's layout and initialisation):
      W_ih (4H, input_size), W_hh (4H, H), b_ih (4H,), b_hh (4H,).
    Rows 0:H belong to the input gate i, H:2H to the forget gate f, 2H:3H to the
    candidate g (often written c~) and 3H:4H to the output gate o.
    """

    def __init__(self, input_size, hidden_size, rng):
        H, k = hidden_size, 1.0 / np.sqrt(hidden_size)
        self.hidden_size = H
        self.params = {  # uniform(-1/sqrt(H), 1/sqrt(H)), as torch.nn.LSTM initialises
            "W_ih": rng.uniform(-k, k, (4 * H, input_size)),
            "W_hh": rng.uniform(-k, k, (4 * H, H)),
            "b_ih": rng.uniform(-k, k, 4 * H),
            "b_hh": rng.uniform(-k, k, 4 * H),
        }

    def forward(self, x, h0=None, c0=None):
        """Run the sequences; return every h_t, shape (batch, time, H), and (h, c)."""
        p, H = self.params, self.hidden_size
        batch, steps, _ = x.shape
        h = np.zeros((batch, H)) if h0 is None else h0
        c = np.zeros((batch, H)) if c0 is None else c0
        self.cache = []  # what BPTT needs from every step
        hs = np.empty((batch, steps, H))
        for t in range(steps):
            a = x[:, t] @ p["W_ih"].T + h @ p["W_hh"].T + p["b_ih"] + p["b_hh"]
            i = sigmoid(a[:, :H])  # input gate: how much of the candidate to write
            f = sigmoid(a[:, H : 2 * H])  # forget gate: how much of the cell to keep
            g = np.tanh(a[:, 2 * H : 3 * H])  # candidate values
            o = sigmoid(a[:, 3 * H :])  # output gate: how much of the cell to show
            c_prev, h_prev = c, h
            c = f * c_prev + i * g
            tanh_c = np.tanh(c)
            h = o * tanh_c
            self.cache.append((x[:, t], h_prev, c_prev, i, f, g, o, tanh_c))
            hs[:, t] = h
        return hs, (h, c)

    def backward(self, dhs):
        """BPTT; dhs[:, t] is dL/dh_t from the layer above (the read-out).

        Returns the parameter gradients (the keys of self.params with a leading "d"),
        the input gradient dL/dx and the gradients of the initial state dL/dh0, dL/dc0.
        """
        p, H = self.params, self.hidden_size
        grads = {"d" + name: np.zeros_like(value) for name, value in p.items()}
        batch, steps, _ = dhs.shape
        dx = np.empty((batch, steps, p["W_ih"].shape[1]))
        dh_next = np.zeros((batch, H))  # dL/dh_t through step t+1
        dc_next = np.zeros((batch, H))  # dL/dc_t through step t+1
        for t in reversed(range(steps)):
            x_t, h_prev, c_prev, i, f, g, o, tanh_c = self.cache[t]
            dh = dhs[:, t] + dh_next  # h_t feeds the read-out and the next step
            do = dh * tanh_c
            dc = dc_next + dh * o * (1.0 - tanh_c**2)  # c_t feeds h_t and c_{t+1}
            di, dg, df = dc * g, dc * i, dc * c_prev
            dc_next = dc * f  # along the cell: multiplied by the forget gate only
            # back through the gate non-linearities to the pre-activations a_t
            da = np.concatenate(
                [di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2), do * o * (1 - o)],
                axis=1,
            )
            grads["dW_ih"] += da.T @ x_t
            grads["dW_hh"] += da.T @ h_prev
            grads["db_ih"] += da.sum(axis=0)
            grads["db_hh"] += da.sum(axis=0)
            dx[:, t] = da @ p["W_ih"]
            dh_next = da @ p["W_hh"]
        return grads, dx, dh_next, dc_next


class Readout:
    """y_t = h_t W_y^T + b_y at every time step; L = 0.5 * sum (y_t - target_t)^2."""

    def __init__(self, hidden_size, output_size, rng):
        k = 1.0 / np.sqrt(hidden_size)
        self.params = {
            "W_y": rng.uniform(-k, k, (output_size, hidden_size)),
            "b_y": rng.uniform(-k, k, output_size),
        }

    def loss(self, hs, targets):
        """Return the loss, dL/dh_t for every step and the read-out's own gradients."""
        ys = hs @ self.params["W_y"].T + self.params["b_y"]
        dys = ys - targets  # dL/dy_t
        grads = {
            "dW_y": np.einsum("bto,bth->oh", dys, hs),  # sum over batch and time
            "db_y": dys.sum(axis=(0, 1)),
        }
        return 0.5 * float(np.sum(dys**2)), dys @ self.params["W_y"], grads


def relative_error(a, b):
    """||a - b|| / (||a|| + ||b||) of two whole arrays, with Euclidean norms (0 if both are 0).

    Not entry by entry: the round-off of a finite difference, about 1e-16 |L| / eps, is
    the same for every entry, so an entry whose true gradient happens to be almost 0
    would divide it by almost 0 and fail a correct backward pass. A wrong backward pass
    changes many entries of an array by amounts of the size of the gradient itself.
    """
    norm = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / norm) if norm > 0 else 0.0


def entrywise_error(a, b):
    """|a - b| / (|a| + |b|) for every entry: ill-conditioned where the gradient is near 0."""
    return np.abs(a - b) / np.maximum(1e-300, np.abs(a) + np.abs(b))


def main(seed):
    rng = np.random.default_rng(seed)
    batch, steps, n_in, n_hidden, n_out = 2, 5, 3, 4, 2

    # ---- (a) Forward pass and BPTT ------------------------------------------------
    lstm = LSTMLayer(n_in, n_hidden, rng)
    head = Readout(n_hidden, n_out, rng)
    x = rng.standard_normal((batch, steps, n_in))
    targets = rng.standard_normal((batch, steps, n_out))
    # A non-zero initial state, so that its gradient can be checked too.
    h0 = 0.5 * rng.standard_normal((batch, n_hidden))
    c0 = 0.5 * rng.standard_normal((batch, n_hidden))

    hs, (h_T, c_T) = lstm.forward(x, h0, c0)
    loss, dhs, head_grads = head.loss(hs, targets)
    lstm_grads, dx, dh0, dc0 = lstm.backward(dhs)
    print(f"LSTM: input {n_in}, hidden {n_hidden}; read-out to {n_out} outputs")
    print(f"Batch of {batch} sequences of {steps} steps; hidden states {hs.shape}")
    print(f"Final hidden state of sequence 0: {np.round(h_T[0], 4)}")
    print(f"Final cell state of sequence 0:   {np.round(c_T[0], 4)}")
    print(f"Loss: {loss:.6f}")

    # ---- (b) Gradient check by centred finite differences --------------------------
    # Everything the loss depends on, by name: (analytic gradient, the array itself).
    checked = {n: (lstm_grads["d" + n], v) for n, v in lstm.params.items()}
    checked.update({n: (head_grads["d" + n], v) for n, v in head.params.items()})
    checked.update({"x": (dx, x), "h0": (dh0, h0), "c0": (dc0, c0)})

    def loss_now():
        return head.loss(lstm.forward(x, h0, c0)[0], targets)[0]

    def numeric_gradient(array, eps):
        """(L(theta + eps) - L(theta - eps)) / (2 eps) for each entry of `array`."""
        grad = np.zeros_like(array)
        for idx in np.ndindex(array.shape):
            saved = array[idx]
            array[idx] = saved + eps
            loss_plus = loss_now()
            array[idx] = saved - eps
            loss_minus = loss_now()
            array[idx] = saved  # restore the entry
            grad[idx] = (loss_plus - loss_minus) / (2 * eps)
        return grad

    eps = 1e-5
    print()
    print(f"Gradient check: centred differences, eps = {eps:g}, float64")
    print(f"{'array':<6}{'shape':>10}{'max |grad|':>13}{'rel. error':>13}")
    analytic_all, numeric_all, errors = [], [], []
    for name, (analytic, array) in checked.items():
        numeric = numeric_gradient(array, eps)
        errors.append(relative_error(analytic, numeric))
        shape = "x".join(map(str, array.shape))
        print(f"{name:<6}{shape:>10}{np.abs(analytic).max():13.4f}{errors[-1]:13.2e}")
        analytic_all.append(analytic.ravel())
        numeric_all.append(numeric.ravel())
    analytic_all = np.concatenate(analytic_all)
    numeric_all = np.concatenate(numeric_all)
    max_rel = max(errors)
    print(
        f"{len(analytic_all)} gradient entries in {len(checked)} arrays, "
        f"largest relative error = {max_rel:.2e}"
    )
    # For comparison, entry by entry: the worst entry is usually one whose gradient is
    # close to 0, where the round-off of the finite difference is divided by almost 0.
    entry_err = entrywise_error(analytic_all, numeric_all)
    worst = int(np.argmax(entry_err))
    print(
        f"(entry by entry the largest error is {entry_err[worst]:.1e}, "
        f"at an entry whose gradient is {analytic_all[worst]:.1e})"
    )
    record("n_checked", len(analytic_all))
    record("n_arrays", len(checked))
    record("eps", eps)
    record("grad_check_max_rel_error", max_rel)
    assert max_rel < 1e-6, f"BPTT disagrees with finite differences ({max_rel:.1e})"
    print("PASSED: BPTT agrees with finite differences (relative error of every array < 1e-6)")

    # ---- (c) The choice of eps -------------------------------------------------------
    # The truncation error of a centred difference shrinks like eps^2, the round-off
    # error of L(theta + eps) - L(theta - eps) grows like 1e-16 / eps: their sum is
    # smallest in between.
    eps_values = 10.0 ** -np.arange(1, 10)
    sweep = []  # the largest relative error over the arrays, for each eps
    for e in eps_values:
        sweep.append(
            max(relative_error(g, numeric_gradient(array, e)) for g, array in checked.values())
        )
    print()
    print("eps      largest relative error")
    for e, err in zip(eps_values, sweep, strict=True):
        print(f"{e:<9.0e}{err:.2e}")
    best = int(np.argmin(sweep))
    print(f"Smallest error {sweep[best]:.2e} at eps = {eps_values[best]:.0e}")
    record("best_eps", float(eps_values[best]))
    record("eps_errors", [float(err) for err in sweep])  # for eps = 1e-1, ..., 1e-9

    # ---- Figure ---------------------------------------------------------------------
    fig, (ax_scatter, ax_eps) = plt.subplots(1, 2, figsize=(9, 4))
    # Absolute values on log axes, so that entries of every size can be compared.
    ax_scatter.loglog(np.abs(numeric_all), np.abs(analytic_all), "o", ms=4, alpha=0.7)
    lo, hi = np.abs(analytic_all).min() / 2, np.abs(analytic_all).max() * 2
    ax_scatter.loglog([lo, hi], [lo, hi], "k--", linewidth=1, label="y = x")
    ax_scatter.set_xlabel("|finite-difference gradient|")
    ax_scatter.set_ylabel("|BPTT gradient|")
    ax_scatter.set_title(f"{len(analytic_all)} gradient entries, eps = {eps:g}")
    ax_scatter.legend()
    ax_eps.loglog(eps_values, sweep, "o-")
    ax_eps.axhline(1e-6, color="gray", linestyle="--", label="pass threshold 1e-6")
    ax_eps.axvline(eps, color="tab:red", linestyle=":", label=f"eps used = {eps:g}")
    ax_eps.invert_xaxis()
    ax_eps.set_xlabel("finite-difference step eps")
    ax_eps.set_ylabel("largest relative error")
    ax_eps.set_title("Error against the step eps")
    ax_eps.legend()
    fig.suptitle("Gradient check of the NumPy LSTM")
    fig.tight_layout()
    plt.show()


# Run as a program; `import lstm_numpy` (the post-lab program) only defines the classes.
if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the random generators")
    main(parser.parse_args().seed)
