"""Experiment 10 (post-lab): a vanilla RNN against an LSTM on a long-range task.

Each input is a sequence of 50 random numbers and the target is their sum, scaled by
1/sqrt(50) so that it has variance 1 (the standardised sum). Every time step matters equally,
so the network has to carry information from the very first step to the last one. A vanilla
RNN squeezes its state through tanh at every step and its gradients vanish or explode over
50 steps; the LSTM's additive cell state keeps the running sum, so it learns the task easily.

Both models get exactly the same budget (hidden size, epochs, batch size, learning rate,
training data) and are trained from three seeds. The program prints the test MSE of each run,
the mean and standard deviation per model, and the MSE of always predicting the mean (the
baseline a model has to beat), then plots the training-loss curves and the test MSEs.
"""

import argparse

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seed", type=int, default=0, help="seed of the random generators")

# Seed everything so that a plain `python rnn_vs_lstm.py` gives the same numbers every time.
SEED = parser.parse_args().seed
torch.manual_seed(SEED)
np.random.seed(SEED)

SEQ_LEN = 50
N_TRAIN = 1280  # 20 batches of 64 per epoch
N_TEST = 500
HIDDEN_SIZE = 16
EPOCHS = 10
BATCH_SIZE = 64
LR = 0.01
SEEDS = (3 * SEED, 3 * SEED + 1, 3 * SEED + 2)  # 0, 1, 2 when SEED is 0


def make_data(n, seq_len):
    """n random sequences of shape (seq_len, 1) and their standardised sums, shape (n, 1)."""
    x = np.random.randn(n, seq_len, 1).astype(np.float32)
    # The sum of seq_len unit-variance values has variance seq_len; dividing by sqrt(seq_len)
    # brings the target back to variance 1 so the loss is comparable across sequence lengths.
    y = x.sum(axis=1) / np.sqrt(seq_len, dtype=np.float32)
    return torch.from_numpy(x), torch.from_numpy(y)


class RNNBase(nn.Module):
    """A recurrent layer (nn.RNN or nn.LSTM) followed by a linear layer on the last time step."""

    def __init__(self, cell_cls, input_size=1, hidden_size=HIDDEN_SIZE):
        super().__init__()
        self.rnn = cell_cls(input_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, 1)

    def forward(self, x):
        out, _ = self.rnn(x)  # works for both: the LSTM's second output is (h, c) instead of h
        return self.fc(out[:, -1, :])


def train_and_test(cell_cls, seed, X_train, y_train, X_test, y_test):
    """Train one model from `seed`; return its per-epoch training loss and its test MSE."""
    torch.manual_seed(seed)  # seeds both the weight initialisation and the batch shuffling
    model = RNNBase(cell_cls)
    criterion = nn.MSELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    epoch_losses = []
    for _ in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(X_train))
        total = 0.0
        for start in range(0, len(X_train), BATCH_SIZE):
            idx = perm[start : start + BATCH_SIZE]
            optimizer.zero_grad()
            loss = criterion(model(X_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        epoch_losses.append(total / len(X_train))
    model.eval()
    with torch.no_grad():
        test_mse = criterion(model(X_test), y_test).item()
    return epoch_losses, test_mse


X_train, y_train = make_data(N_TRAIN, SEQ_LEN)
X_test, y_test = make_data(N_TEST, SEQ_LEN)
# Always predicting the mean of the test targets gives an MSE equal to their variance.
baseline_mse = y_test.var(unbiased=False).item()

models = {"RNN": nn.RNN, "LSTM": nn.LSTM}
curves, mses = {}, {}
for name, cell_cls in models.items():
    runs = [train_and_test(cell_cls, s, X_train, y_train, X_test, y_test) for s in SEEDS]
    curves[name] = np.mean([losses for losses, _ in runs], axis=0)  # mean curve over seeds
    mses[name] = np.array([mse for _, mse in runs])

print(f"Task: standardised sum of {SEQ_LEN} random numbers; {N_TRAIN} training sequences")
print(f"Budget per run: hidden {HIDDEN_SIZE}, {EPOCHS} epochs, batch {BATCH_SIZE}, Adam lr {LR}")
print()
print("Test MSE")
print("Model  " + "".join(f"seed {s}   " for s in SEEDS) + "mean     std")
for name in models:
    row = "".join(f"{m:<9.4f}" for m in mses[name])
    print(f"{name:<7}{row}{mses[name].mean():<9.4f}{mses[name].std():.4f}")
print(f"Baseline (predict the mean): {baseline_mse:.4f}")

rnn_mse, lstm_mse = float(mses["RNN"].mean()), float(mses["LSTM"].mean())
rnn_mse_std, lstm_mse_std = float(mses["RNN"].std()), float(mses["LSTM"].std())
improvement = rnn_mse / lstm_mse
print(f"The LSTM's test MSE is {improvement:.1f}x lower than the RNN's.")

fig, (ax_loss, ax_bar) = plt.subplots(1, 2, figsize=(11, 4))
epochs = np.arange(1, EPOCHS + 1)
for name in models:
    ax_loss.plot(epochs, curves[name], marker="o", label=name)
ax_loss.axhline(baseline_mse, color="gray", linestyle="--", label="predict the mean")
ax_loss.set_yscale("log")  # the two curves differ by orders of magnitude
ax_loss.set_title(f"Training loss (mean over {len(SEEDS)} seeds)")
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("MSE")
ax_loss.legend()

names = list(models)
ax_bar.bar(
    names,
    [mses[n].mean() for n in names],
    yerr=[mses[n].std() for n in names],
    capsize=8,
    color=["tab:blue", "tab:orange"],
)
ax_bar.set_yscale("log")
ax_bar.set_title("Test MSE (mean ± std over seeds)")
ax_bar.set_ylabel("MSE")
fig.suptitle(f"Vanilla RNN vs LSTM: standardised sum of {SEQ_LEN} numbers")
fig.tight_layout()
plt.show()
