"""Experiment 14: bidirectional vs unidirectional RNN on a look-ahead tagging task.

Each sequence is 20 random digits 0-9. Every digit is tagged 1 if the NEXT digit is
larger than it, else 0 (the last digit has no next one and is not scored). A
unidirectional RNN tags position t after reading x_1 ... x_t only, so it must guess
without the one digit that decides the tag; a bidirectional RNN also reads the sequence
backwards and knows x_{t+1} when it tags x_t.

The best a model without the future can do is to guess from the current digit v alone:
the tag is 1 for the 9 - v larger next digits out of 10, so the best guess is right with
probability max(9 - v, v + 1) / 10, which is 0.75 on average. The program measures this
ceiling on the test set, trains both networks with the same budget and compares their
test accuracy after every epoch and for every value of the current digit.
"""

import argparse

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seed", type=int, default=0, help="seed of the random generators")

# Seed and use one thread, so that a plain `python bidirectional_tagging.py` prints the
# numbers of the lab record (a torch program's numbers depend on its thread count).
SEED = 1000 * parser.parse_args().seed
torch.manual_seed(SEED)
torch.set_num_threads(1)

SEQ_LEN, N_TRAIN, N_TEST = 20, 400, 1000
EPOCHS, BATCH_SIZE, LR = 20, 20, 0.005
IGNORE = -100  # the tag of the last position: cross_entropy skips it


def make_data(n, generator):
    """n sequences of SEQ_LEN digits and their tags: 1 where the next one is larger."""
    digits = torch.randint(0, 10, (n, SEQ_LEN), generator=generator)
    tags = torch.full((n, SEQ_LEN), IGNORE)
    tags[:, :-1] = (digits[:, 1:] > digits[:, :-1]).long()
    return digits, tags


class Tagger(nn.Module):
    """One-hot digits -> RNN (one or two directions) -> two tag scores at every step."""

    def __init__(self, hidden_size, bidirectional):
        super().__init__()
        directions = 2 if bidirectional else 1
        self.rnn = nn.RNN(
            input_size=10,  # one-hot digits
            hidden_size=hidden_size,
            batch_first=True,
            bidirectional=bidirectional,
        )
        # At step t the bidirectional output is [forward h_t ; backward h_t]
        self.out = nn.Linear(directions * hidden_size, 2)

    def forward(self, digits):
        x = nn.functional.one_hot(digits, 10).float()  # (batch, time, 10)
        h, _ = self.rnn(x)  # (batch, time, directions * hidden)
        return self.out(h)  # (batch, time, 2)


def accuracy(model, digits, tags):
    """Fraction of scored positions tagged correctly, and the predictions."""
    with torch.no_grad():
        pred = model(digits).argmax(dim=-1)
    scored = tags != IGNORE
    return (pred[scored] == tags[scored]).float().mean().item(), pred


def train(model, digits, tags, test_digits, test_tags, name):
    """Adam on shuffled mini-batches; returns the test accuracy after every epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    shuffle = torch.Generator().manual_seed(SEED + 1)  # the same batches for both networks
    test_acc = []
    for epoch in range(1, EPOCHS + 1):
        perm = torch.randperm(len(digits), generator=shuffle)
        for start in range(0, len(digits), BATCH_SIZE):
            idx = perm[start : start + BATCH_SIZE]
            logits = model(digits[idx])
            loss = nn.functional.cross_entropy(
                logits.flatten(0, 1), tags[idx].flatten(), ignore_index=IGNORE
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        test_acc.append(accuracy(model, test_digits, test_tags)[0])
        if epoch <= 3 or epoch % 5 == 0:
            train_acc = accuracy(model, digits, tags)[0]
            print(
                f"{name:<15} epoch {epoch:2d}  loss {loss.item():.4f}  "
                f"train acc {train_acc:.3f}  test acc {test_acc[-1]:.3f}"
            )
    return test_acc


train_digits, train_tags = make_data(N_TRAIN, torch.Generator().manual_seed(SEED + 10))
test_digits, test_tags = make_data(N_TEST, torch.Generator().manual_seed(SEED + 11))
scored = test_tags != IGNORE
current = test_digits[scored]  # the digit at each scored test position
truth = test_tags[scored]

# The ceiling without look-ahead: for each current digit v, guess the more frequent tag.
ceiling_by_digit = []
for v in range(10):
    share_of_ones = truth[current == v].float().mean().item()
    ceiling_by_digit.append(max(share_of_ones, 1 - share_of_ones))
counts = torch.bincount(current, minlength=10).float()
ceiling = float((torch.tensor(ceiling_by_digit) * counts).sum() / counts.sum())
print(f"Tag 1 if the next digit is larger: {scored.sum().item()} scored test positions")
print(f"Share of tag 1 in the test set: {truth.float().mean().item():.3f}")
print(f"Best accuracy without look-ahead (guess from the current digit): {ceiling:.4f}")
print()

# Both networks get about the same number of weights (the unidirectional one has more
# hidden units), so that a difference comes from the direction, not from the capacity.
torch.manual_seed(SEED)
uni = Tagger(hidden_size=48, bidirectional=False)
torch.manual_seed(SEED)
bi = Tagger(hidden_size=32, bidirectional=True)
n_uni = sum(p.numel() for p in uni.parameters())
n_bi = sum(p.numel() for p in bi.parameters())
print(f"Unidirectional RNN: 48 hidden units, {n_uni} parameters")
print(f"Bidirectional RNN:  2 x 32 hidden units, {n_bi} parameters")
data = (train_digits, train_tags, test_digits, test_tags)
curves = {
    "unidirectional": train(uni, *data, "unidirectional"),
    "bidirectional": train(bi, *data, "bidirectional"),
}

# Accuracy split by the value of the current digit
by_digit = {}
for name, model in (("unidirectional", uni), ("bidirectional", bi)):
    _, pred = accuracy(model, test_digits, test_tags)
    correct = (pred[scored] == truth).float()
    by_digit[name] = [correct[current == v].mean().item() for v in range(10)]

uni_acc, bi_acc = curves["unidirectional"][-1], curves["bidirectional"][-1]
print()
print(f"Test accuracy after {EPOCHS} epochs")
print(f"  unidirectional RNN  {uni_acc:.4f}  (best without look-ahead {ceiling:.4f})")
print(f"  bidirectional RNN   {bi_acc:.4f}")
print("Accuracy by current digit v")
print("v               " + "".join(f"{v:>6d}" for v in range(10)))
print("ceiling         " + "".join(f"{a:6.2f}" for a in ceiling_by_digit))
for name in by_digit:
    print(f"{name:<16}" + "".join(f"{a:6.2f}" for a in by_digit[name]))

uni_acc_by_digit, bi_acc_by_digit = by_digit["unidirectional"], by_digit["bidirectional"]
pairs = zip(uni_acc_by_digit, ceiling_by_digit, strict=True)
gaps = [abs(acc - best) for acc, best in pairs]
uni_max_gap_to_ceiling = max(gaps)  # largest per-digit distance to the ceiling
uni_acc_epoch1, bi_acc_epoch1 = curves["unidirectional"][0], curves["bidirectional"][0]

# ---- Figures -------------------------------------------------------------------
epochs = np.arange(1, EPOCHS + 1)
plt.figure(figsize=(7, 4))
plt.plot(epochs, curves["unidirectional"], marker="o", label="unidirectional RNN")
plt.plot(epochs, curves["bidirectional"], marker="s", label="bidirectional RNN")
plt.axhline(ceiling, color="gray", linestyle="--", label="best without look-ahead")
plt.ylim(0.5, 1.02)
plt.xticks([1, *range(5, EPOCHS + 1, 5)])
plt.title("Look-ahead tagging: test accuracy over training")
plt.xlabel("epoch")
plt.ylabel("test accuracy")
plt.legend()
plt.grid(True, alpha=0.3)
plt.tight_layout()
plt.show()

plt.figure(figsize=(7, 4))
width = 0.38
for shift, name in ((-width / 2, "unidirectional"), (width / 2, "bidirectional")):
    plt.bar(np.arange(10) + shift, by_digit[name], width, label=f"{name} RNN")
plt.plot(range(10), ceiling_by_digit, "k.--", label="ceiling without look-ahead")
plt.xticks(range(10))
plt.ylim(0, 1.3)  # room above the bars for the legend, which would hide some of them
plt.title("Test accuracy by the value of the current digit")
plt.xlabel("current digit v")
plt.ylabel("test accuracy")
plt.legend(loc="upper center", ncol=3)
plt.tight_layout()
plt.show()
