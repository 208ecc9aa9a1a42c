"""Experiment 10 (in-lab): a simple recurrent neural network in PyTorch.

A vanilla RNN reads a window of 20 past values of a noisy sine wave and predicts the next
value. The program generates the data, cuts it into sliding windows, trains the RNN on the
first 80 % of the series, then measures the mean squared error on the last 20 % and plots the
actual and predicted values. Because the added noise has variance 0.1^2 = 0.01, no model can
do much better than an MSE of about 0.01: that is the noise floor the test MSE is compared to.
"""

import argparse

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seed", type=int, default=0, help="seed of the random generators")

# Seed everything so that a plain `python rnn_sine.py` gives the same numbers every time.
SEED = parser.parse_args().seed
torch.manual_seed(SEED)
np.random.seed(SEED)

WINDOW = 20  # how many past values the RNN sees
NOISE_STD = 0.1  # standard deviation of the noise added to the sine wave
EPOCHS = 100


def generate_data(seq_length=1000):
    """A sine wave over 40 time units with Gaussian noise of standard deviation 0.1."""
    t = np.linspace(0, 40, seq_length)
    return np.sin(t) + NOISE_STD * np.random.randn(seq_length)


def create_dataset(data, seq_length):
    """Sliding windows: X[i] = data[i:i+seq_length], y[i] = data[i+seq_length] (the next value)."""
    xs = np.array([data[i : i + seq_length] for i in range(len(data) - seq_length)])
    ys = data[seq_length:]
    # Shapes (N, seq_length, 1) and (N, 1): one feature per time step, one target per window.
    X = torch.tensor(xs, dtype=torch.float32).unsqueeze(-1)
    y = torch.tensor(ys, dtype=torch.float32).unsqueeze(-1)
    return X, y


class SimpleRNN(nn.Module):
    """One RNN layer (16 hidden units) followed by a linear layer on the last time step."""

    def __init__(self, input_size=1, hidden_size=16, output_size=1):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        out, _ = self.rnn(x)  # out: (batch, time, hidden)
        return self.fc(out[:, -1, :])  # predict from the hidden state after the last step


data = generate_data()
X, y = create_dataset(data, WINDOW)

# Chronological 80/20 split (no shuffling): the model is tested on the future of the series.
split = int(0.8 * len(X))
X_train, y_train = X[:split], y[:split]
X_test, y_test = X[split:], y[split:]

model = SimpleRNN()
criterion = nn.MSELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

# Full-batch training: every epoch is one gradient step on the whole training set.
for epoch in range(EPOCHS):
    model.train()
    optimizer.zero_grad()
    output = model(X_train)  # (N, 1), the same shape as y_train
    loss = criterion(output, y_train)
    loss.backward()
    optimizer.step()
    if epoch == 0:
        initial_loss = loss.item()
    if epoch % 10 == 0:
        print(f"Epoch {epoch}, Loss: {loss.item():.4f}")
final_loss = loss.item()
print(f"Epoch {EPOCHS - 1}, Loss: {final_loss:.4f} (final training loss)")

model.eval()
with torch.no_grad():
    predictions = model(X_test)
    test_mse = criterion(predictions, y_test).item()

noise_var = round(NOISE_STD**2, 6)  # 0.01, without float round-off
print(f"Test MSE: {test_mse:.4f}")
print(f"Noise variance: {noise_var:.4f}")
print("(the noise is unpredictable, so a test MSE near the noise variance is the best achievable)")

plt.figure(figsize=(10, 4))
plt.plot(y_test.numpy(), label="Actual")
plt.plot(predictions.numpy(), label="Predicted")
plt.title("RNN one-step-ahead prediction of a noisy sine wave (test set)")
plt.xlabel("time step")
plt.ylabel("value")
plt.legend()
plt.tight_layout()
plt.show()
