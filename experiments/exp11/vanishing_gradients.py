"""Experiment 11: the vanishing gradient, and how gating fixes it.

A vanilla RNN, an LSTM and a GRU (PyTorch) learn a one-symbol copy task, "delayed
recall". Each sequence starts with one of 8 "data" symbols, followed by L - 1
distractors drawn from 8 other symbols. After the last step the network must say which
data symbol came FIRST. All the useful information is L - 1 steps in the past, so the
gradient of the loss has to travel back through L - 1 recurrent steps to teach the
network to store it. Guessing gives a cross-entropy of ln 8 = 2.079 (accuracy 1/8).

(a) The three networks are trained for L = 10, 25, 50 and 100 with the same hidden size,
    optimiser, learning rate, training batches and step budget, then tested.
(b) For L = 100 the program measures the gradient reaching every time step,
    ||dL/dh_t|| for t = 0 ... L-1, before and after training.

The gated cells use the "chrono" initialisation of their gate biases (Tallec & Ollivier,
2018): each LSTM forget gate / GRU update gate starts out remembering over a random time
scale between 1 and L - 1 steps. The vanilla RNN has no gate, so it has no such setting.
"""

import argparse
import copy
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from labreport.record import record

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seed", type=int, default=0, help="seed of the random generators")

# Seed and use one thread, so that a plain `python vanishing_gradients.py` prints the
# numbers of the lab record (a torch program's numbers depend on its thread count).
SEED = 1000 * parser.parse_args().seed
torch.manual_seed(SEED)
torch.set_num_threads(1)

N_SYMBOLS = 8  # data symbols 0..7; the distractors are symbols 8..15
LENGTHS = (10, 25, 50, 100)  # sequence lengths L
HIDDEN_SIZE = 32
BATCH_SIZE = 32
MAX_STEPS = 1000  # training budget (Adam steps) per network and length; solved runs stop early
LR = 0.01
CLIP = 1.0  # gradient-norm clipping, against the occasional exploding step
SOLVED_LOSS = 0.01  # stop early once the recent training loss is below this
CELLS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
CHANCE_LOSS = math.log(N_SYMBOLS)  # cross-entropy of a uniform guess


def make_batch(n, length, generator):
    """n one-hot sequences (n, length, 16) and the symbols to recall, shape (n,)."""
    first = torch.randint(0, N_SYMBOLS, (n, 1), generator=generator)
    rest = torch.randint(N_SYMBOLS, 2 * N_SYMBOLS, (n, length - 1), generator=generator)
    symbols = torch.cat([first, rest], dim=1)
    return nn.functional.one_hot(symbols, 2 * N_SYMBOLS).float(), first.squeeze(1)


class Recaller(nn.Module):
    """A recurrent layer (nn.RNN, nn.LSTM or nn.GRU), a classifier on its last state."""

    def __init__(self, cell_cls, length, chrono=True):
        super().__init__()
        self.rnn = cell_cls(2 * N_SYMBOLS, HIDDEN_SIZE, batch_first=True)
        self.fc = nn.Linear(HIDDEN_SIZE, N_SYMBOLS)
        if chrono and cell_cls is not nn.RNN:
            self.chrono_init(length)

    @torch.no_grad()
    def chrono_init(self, length):
        """Gate biases that make each unit keep its state over 1 to length-1 steps.

        PyTorch stacks the gate biases as (input, forget, cell, output) for the LSTM
        and (reset, update, new) for the GRU: rows H:2H are the forget / update gate.
        A keep-gate of sigmoid(b) = 1 - 1/T forgets over about T steps: b = log(T - 1).
        """
        H = HIDDEN_SIZE
        b = torch.log(torch.empty(H).uniform_(1, length - 1))
        self.rnn.bias_ih_l0.zero_()
        self.rnn.bias_hh_l0.zero_()
        self.rnn.bias_ih_l0[H : 2 * H] = b  # forget gate (LSTM) / update gate (GRU)
        if isinstance(self.rnn, nn.LSTM):
            # input gate mostly shut, so that the distractors write little into the cell
            self.rnn.bias_ih_l0[:H] = -b

    def forward(self, x):
        out, _ = self.rnn(x)  # out: (batch, time, hidden)
        return self.fc(out[:, -1])

    def hidden_grad_norms(self, x, y):
        """||dL/dh_t|| for every step t, averaged over the sequences of the batch.

        nn.RNN/LSTM/GRU run a whole sequence in one call, so the intermediate states
        are not tensors we can ask for gradients. Here the same layer is stepped one
        time step at a time and every h_t is kept with retain_grad(), so that
        backward() fills in dL/dh_t. The probe runs in float64: the RNN's gradient at the
        first step is below float32's smallest number (1e-38 and less), which would make it 0
        and a ratio to it 0/0.
        """
        probe = copy.deepcopy(self).double()
        x = x.double()
        state, hs = None, []
        for t in range(x.shape[1]):
            _, state = probe.rnn(x[:, t : t + 1], state)
            h = state[0] if isinstance(state, tuple) else state  # LSTM state is (h, c)
            h.retain_grad()
            hs.append(h)
        # A summed loss: each sequence's gradient is the gradient of its own loss.
        loss = nn.functional.cross_entropy(probe.fc(hs[-1][0]), y, reduction="sum")
        loss.backward()
        return np.array([h.grad[0].norm(dim=1).mean().item() for h in hs])


def train(model, length, generator):
    """Adam on fresh batches for up to MAX_STEPS steps; returns the steps taken."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    recent = []  # the last 20 training losses
    for step in range(1, MAX_STEPS + 1):
        x, y = make_batch(BATCH_SIZE, length, generator)
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        recent = (recent + [loss.item()])[-20:]
        solved = len(recent) == 20 and np.mean(recent) < SOLVED_LOSS
        if step % 100 == 0 or solved:
            note = "  (solved, stopping)" if solved else ""
            print(f"    step {step:3d}  training loss {np.mean(recent):.4f}{note}")
        if solved:
            break
    return step


def evaluate(model, x, y):
    """Test cross-entropy and accuracy."""
    with torch.no_grad():
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y).item()
        accuracy = (logits.argmax(dim=1) == y).float().mean().item()
    return loss, accuracy


# ---- (a) Test loss against sequence length -------------------------------------
print(f"Delayed recall of 1 of {N_SYMBOLS} symbols, chance loss {CHANCE_LOSS:.3f}")
print(f"Per network: hidden {HIDDEN_SIZE}, batch {BATCH_SIZE}, <={MAX_STEPS} steps")
test_loss = {name: [] for name in CELLS}
test_acc = {name: [] for name in CELLS}
initial, trained = {}, {}  # each cell's network before and after training, for (b)
for length in LENGTHS:
    x_test, y_test = make_batch(1000, length, torch.Generator().manual_seed(SEED + length))
    for name, cell_cls in CELLS.items():
        torch.manual_seed(SEED + length)  # the initial weights
        model = Recaller(cell_cls, length)
        initial[name] = copy.deepcopy(model)
        print(f"L = {length:3d}  {name}")
        # Same generator seed: every cell type sees exactly the same training batches.
        steps = train(model, length, torch.Generator().manual_seed(SEED + 500 + length))
        trained[name] = model
        loss, acc = evaluate(model, x_test, y_test)
        print(f"    test loss {loss:.4f}  test accuracy {acc:.3f}  ({steps} steps)")
        test_loss[name].append(loss)
        test_acc[name].append(acc)
        record(f"{name.lower()}_loss_L{length}", loss)  # e.g. rnn_loss_L50
        record(f"{name.lower()}_acc_L{length}", acc)

print()
tables = (("Test loss", test_loss, "9.4f"), ("Test accuracy", test_acc, "9.3f"))
for title, table, fmt in tables:
    print(title)
    print("L     " + "".join(f"{name:>9}" for name in CELLS))
    for i, length in enumerate(LENGTHS):
        print(f"{length:<6}" + "".join(f"{table[name][i]:{fmt}}" for name in CELLS))

# ---- (b) Gradient reaching each time step --------------------------------------
L = LENGTHS[-1]  # the networks left in `initial` and `trained` are those for L = 100
MID = L // 2
x_probe, y_probe = make_batch(256, L, torch.Generator().manual_seed(SEED + 7))
norms = {"before": {}, "after": {}}
for name in CELLS:
    norms["before"][name] = initial[name].hidden_grad_norms(x_probe, y_probe)
    norms["after"][name] = trained[name].hidden_grad_norms(x_probe, y_probe)
# For comparison: an LSTM with PyTorch's default biases (gates half open, f ~ 0.5).
torch.manual_seed(SEED + L)
default_lstm = Recaller(nn.LSTM, L, chrono=False)
default_norms = default_lstm.hidden_grad_norms(x_probe, y_probe)
norms["before"]["LSTM, default biases"] = default_norms

print()
print(f"Gradient reaching the first step, L = {L}:")
print(f"  first/last   = ||dL/dh_0|| / ||dL/dh_{L - 1}||")
print(f"  first/middle = ||dL/dh_0|| / ||dL/dh_{MID}||")
print(f"{'':38}{'first/last':>12}{'first/middle':>14}")
for stage, suffix in (("before", "init"), ("after", "trained")):
    for name, g in norms[stage].items():
        first_last, first_mid = float(g[0] / g[-1]), float(g[0] / g[MID])
        label = f"{name}, {stage} training"
        print(f"{label:<38}{first_last:12.2e}{first_mid:14.2e}")
        key = name.lower().replace(", default biases", "_default")  # e.g. lstm_default
        record(f"{key}_grad_ratio_{suffix}", first_last)  # e.g. rnn_grad_ratio_init
        record(f"{key}_grad_ratio_mid_{suffix}", first_mid)

# ---- Figures -------------------------------------------------------------------
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
for name in CELLS:
    ax_loss.plot(LENGTHS, test_loss[name], marker="o", label=name)
    ax_acc.plot(LENGTHS, test_acc[name], marker="o", label=name)
ax_loss.axhline(CHANCE_LOSS, color="gray", linestyle="--", label="chance (ln 8)")
ax_acc.axhline(1 / N_SYMBOLS, color="gray", linestyle="--", label="chance (1/8)")
ax_loss.set_yscale("log")
ax_loss.set_ylabel("test cross-entropy (log scale)")
ax_acc.set_ylabel("test accuracy")
for ax in (ax_loss, ax_acc):
    ax.set_xticks(LENGTHS)
    ax.set_xlabel("sequence length L")
    ax.legend()
fig.suptitle("Delayed recall: test loss and accuracy against the sequence length")
fig.tight_layout()
plt.show()

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
colours = {"RNN": "tab:blue", "LSTM": "tab:orange", "GRU": "tab:green"}
for ax, stage in zip(axes, ("before", "after"), strict=True):
    for name, g in norms[stage].items():
        style = "--" if "default" in name else "-"
        ax.semilogy(range(L), g, style, color=colours[name.split(",")[0]], label=name)
    ax.set_title(f"{stage.capitalize()} training (L = {L})")
    ax.set_xlabel("time step t (the symbol to recall is at t = 0)")
    ax.grid(True, alpha=0.3)
axes[0].set_ylabel(r"$\|\partial L / \partial h_t\|$ (log scale)")
axes[0].legend()
fig.suptitle("Gradient of the loss reaching each time step")
fig.tight_layout()
plt.show()
