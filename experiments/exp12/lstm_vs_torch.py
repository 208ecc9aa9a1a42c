"""Experiment 12 (post-lab): the NumPy LSTM against torch.nn.LSTM.

(a) The same weights are copied into torch.nn.LSTM and nn.Linear (float64). Both
    implementations run the same batch: the hidden states, the final (h, c), the loss
    and every gradient (weights, inputs, initial state) are compared.
(b) Both are then trained side by side from the same initial weights with the same
    Adam updates on a small memory task, the delayed echo: the output at step t must
    repeat the input of step t - 3. If the NumPy forward pass and BPTT are right, the
    two training curves are one and the same curve.

The LSTM layer is the one written in the in-lab program (lstm_numpy.py).
"""

import argparse

import matplotlib.pyplot as plt
import numpy as np
import torch
from lstm_numpy import LSTMLayer, Readout  # the in-lab program, in the same folder
from torch import nn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seed", type=int, default=0, help="seed of the random generators")

torch.set_num_threads(1)  # the numbers of the lab record, also when run by hand
rng = np.random.default_rng(parser.parse_args().seed)


def to_torch(lstm, head):
    """torch.nn.LSTM + nn.Linear (float64) holding copies of the NumPy weights."""
    n_hidden = lstm.hidden_size
    n_in, n_out = lstm.params["W_ih"].shape[1], head.params["W_y"].shape[0]
    t_lstm = nn.LSTM(n_in, n_hidden, batch_first=True).double()
    t_head = nn.Linear(n_hidden, n_out).double()
    # W_ih -> weight_ih_l0 (l0: the first layer), b_ih -> bias_ih_l0, ...
    with torch.no_grad():
        for name, value in lstm.params.items():
            torch_name = name.replace("W_", "weight_").replace("b_", "bias_") + "_l0"
            getattr(t_lstm, torch_name).copy_(torch.from_numpy(value))
        t_head.weight.copy_(torch.from_numpy(head.params["W_y"]))
        t_head.bias.copy_(torch.from_numpy(head.params["b_y"]))
    return t_lstm, t_head


def max_diff(a, b):
    """Largest absolute difference between a NumPy array and a torch tensor."""
    return float(np.abs(a - b.detach().numpy()).max())


def rel_diff(a, b):
    """max_diff(a, b) relative to the largest entry of a: float64 round-off is ~1e-16 of it."""
    return max_diff(a, b) / float(np.abs(a).max())


# ---- (a) Same weights, same batch: compare everything -------------------------
batch, steps, n_in, n_hidden, n_out = 4, 8, 3, 5, 2
lstm = LSTMLayer(n_in, n_hidden, rng)
head = Readout(n_hidden, n_out, rng)
x = rng.standard_normal((batch, steps, n_in))
targets = rng.standard_normal((batch, steps, n_out))
h0 = 0.5 * rng.standard_normal((batch, n_hidden))
c0 = 0.5 * rng.standard_normal((batch, n_hidden))

# NumPy: forward, loss, BPTT
hs, (h_T, c_T) = lstm.forward(x, h0, c0)
loss, dhs, head_grads = head.loss(hs, targets)
lstm_grads, dx, dh0, dc0 = lstm.backward(dhs)

# PyTorch: the same computation, gradients by autograd
t_lstm, t_head = to_torch(lstm, head)
tx = torch.tensor(x, requires_grad=True)
# PyTorch's initial states have shape (layers, batch, hidden)
th0 = torch.tensor(h0[None], requires_grad=True)
tc0 = torch.tensor(c0[None], requires_grad=True)
t_hs, (t_hT, t_cT) = t_lstm(tx, (th0, tc0))
t_loss = 0.5 * ((t_head(t_hs) - torch.from_numpy(targets)) ** 2).sum()
t_loss.backward()

# (NumPy array, the same quantity from PyTorch) for everything compared
forward_pairs = {
    "hidden states h_t": (hs, t_hs),
    "final h_T": (h_T, t_hT[0]),
    "final c_T": (c_T, t_cT[0]),
    "loss": (np.array(loss), t_loss),
}
grad_pairs = {
    "dW_ih": (lstm_grads["dW_ih"], t_lstm.weight_ih_l0.grad),
    "dW_hh": (lstm_grads["dW_hh"], t_lstm.weight_hh_l0.grad),
    "db_ih": (lstm_grads["db_ih"], t_lstm.bias_ih_l0.grad),
    "db_hh": (lstm_grads["db_hh"], t_lstm.bias_hh_l0.grad),
    "dW_y": (head_grads["dW_y"], t_head.weight.grad),
    "db_y": (head_grads["db_y"], t_head.bias.grad),
    "dx": (dx, tx.grad),
    "dh0": (dh0, th0.grad[0]),
    "dc0": (dc0, tc0.grad[0]),
}
print("NumPy LSTM vs torch.nn.LSTM, same weights, float64")
print(f"Batch of {batch} sequences, {steps} steps, input {n_in}, hidden {n_hidden}")
print(f"Loss: NumPy {loss:.12f}   PyTorch {t_loss.item():.12f}")
# The absolute difference of a quantity of size ~40 (the loss) is a few units of 1e-15
# even when only its last bit differs; relative to the quantity's size it is ~1e-16.
print(f"{'quantity':<20}{'max |NumPy - PyTorch|':>22}{'relative to max |NumPy|':>25}")
for name, (a, b) in {**forward_pairs, **grad_pairs}.items():
    print(f"{name:<20}{max_diff(a, b):22.2e}{rel_diff(a, b):25.2e}")
max_forward = max(max_diff(a, b) for a, b in forward_pairs.values())
max_grad = max(max_diff(a, b) for a, b in grad_pairs.values())
rel_forward = max(rel_diff(a, b) for a, b in forward_pairs.values())
rel_grad = max(rel_diff(a, b) for a, b in grad_pairs.values())
print(f"Largest difference: forward {max_forward:.2e}, gradients {max_grad:.2e}")
print(f"Largest relative difference: forward {rel_forward:.2e}, gradients {rel_grad:.2e}")
assert max(max_forward, max_grad) < 1e-10, "NumPy and PyTorch disagree"
print("PASSED: outputs and gradients agree to float64 round-off")

# ---- (b) Training side by side on the delayed echo ----------------------------
DELAY, SEQ_LEN, N_TRAIN, HIDDEN, EPOCHS, LR = 3, 12, 128, 16, 300, 0.005


def echo_data(n):
    """Inputs (n, SEQ_LEN, 1) of N(0, 1) noise; targets: the input DELAY steps back."""
    xs = rng.standard_normal((n, SEQ_LEN, 1))
    ys = np.zeros_like(xs)
    ys[:, DELAY:] = xs[:, :-DELAY]
    return xs, ys


x_train, y_train = echo_data(N_TRAIN)
x_test, y_test = echo_data(500)
np_lstm, np_head = LSTMLayer(1, HIDDEN, rng), Readout(HIDDEN, 1, rng)
t_lstm, t_head = to_torch(np_lstm, np_head)  # the same initial weights

# NumPy Adam, written as torch.optim.Adam computes it (same defaults)
np_params = {**np_lstm.params, **np_head.params}  # the arrays, updated in place
adam_m = {k: np.zeros_like(v) for k, v in np_params.items()}
adam_v = {k: np.zeros_like(v) for k, v in np_params.items()}
beta1, beta2, adam_eps = 0.9, 0.999, 1e-8
optimizer = torch.optim.Adam([*t_lstm.parameters(), *t_head.parameters()], lr=LR)
tx_train, ty_train = torch.from_numpy(x_train), torch.from_numpy(y_train)

np_losses, torch_losses = [], []
for epoch in range(1, EPOCHS + 1):
    # NumPy: full-batch MSE = 2 * (0.5 * sum of squares) / count, and its gradients
    hs, _ = np_lstm.forward(x_train)
    loss_sum, dhs, grads = np_head.loss(hs, y_train)
    scale = 2.0 / y_train.size
    grads.update(np_lstm.backward(dhs * scale)[0])
    grads["dW_y"] *= scale
    grads["db_y"] *= scale
    np_losses.append(loss_sum * scale)
    for k, p in np_params.items():
        g = grads["d" + k]
        adam_m[k] = beta1 * adam_m[k] + (1 - beta1) * g
        adam_v[k] = beta2 * adam_v[k] + (1 - beta2) * g * g
        m_hat = adam_m[k] / (1 - beta1**epoch)
        v_hat = adam_v[k] / (1 - beta2**epoch)
        p -= LR * m_hat / (np.sqrt(v_hat) + adam_eps)

    # PyTorch: the same model, loss and optimiser, with autograd
    optimizer.zero_grad()
    t_out, _ = t_lstm(tx_train)
    t_loss = ((t_head(t_out) - ty_train) ** 2).mean()
    t_loss.backward()
    optimizer.step()
    torch_losses.append(t_loss.item())

    if epoch == 1 or epoch % 50 == 0:
        np_loss, torch_loss = np_losses[-1], torch_losses[-1]
        print(f"Epoch {epoch:3d}  MSE NumPy {np_loss:.6f}  PyTorch {torch_loss:.6f}")

np_losses, torch_losses = np.array(np_losses), np.array(torch_losses)
curve_diffs = np.abs(np_losses - torch_losses)
curve_diff = float(curve_diffs.max())
curve_rel_diff = float((curve_diffs / np_losses).max())  # relative to the loss of that epoch
test_hs, _ = np_lstm.forward(x_test)
test_mse = 2.0 * np_head.loss(test_hs, y_test)[0] / y_test.size
baseline = float(np.mean(y_test**2))  # always predicting 0
initial_loss, final_loss = float(np_losses[0]), float(np_losses[-1])
curve_first_diff = float(curve_diffs[0])
print(
    f"Difference between the two training curves: {curve_first_diff:.1e} at epoch 1, "
    f"at most {curve_diff:.2e} (relative to the loss: at most {curve_rel_diff:.1e})"
)
print(f"NumPy LSTM: training MSE {initial_loss:.4f} -> {final_loss:.4f}")
print(f"Test MSE {test_mse:.4f} (predicting 0 always: {baseline:.4f})")

# ---- Figure ------------------------------------------------------------------
fig, (ax_loss, ax_diff) = plt.subplots(1, 2, figsize=(11, 4))
epochs = np.arange(1, EPOCHS + 1)
ax_loss.semilogy(epochs, np_losses, label="NumPy LSTM (BPTT by hand)", linewidth=3)
ax_loss.semilogy(epochs, torch_losses, "--", label="torch.nn.LSTM (autograd)")
ax_loss.set_title(f"Training loss, delayed echo (delay {DELAY})")
ax_loss.set_xlabel("epoch (full-batch Adam step)")
ax_loss.set_ylabel("MSE (log scale)")
ax_loss.legend()
ax_diff.semilogy(epochs, curve_diffs + 1e-18)
ax_diff.set_title("|loss NumPy - loss PyTorch|")
ax_diff.set_xlabel("epoch")
ax_diff.set_ylabel("absolute difference (log scale)")
fig.suptitle("The NumPy LSTM and torch.nn.LSTM trained from the same weights")
fig.tight_layout()
plt.show()
