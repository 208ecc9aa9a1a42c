"""Experiment 5: sequence prediction with a recurrent neural network written from scratch in NumPy.

(a) one forward pass, one BPTT backward pass and one SGD step on random data;
(b) a gradient check: BPTT against centred finite differences, in float64;
(c) training the RNN to predict the next value of a sine wave, tested on held-out windows.
"""

import argparse

import matplotlib.pyplot as plt
import numpy as np

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seed", type=int, default=0, help="seed of the random generators")
np.random.seed(parser.parse_args().seed)


class RNN:
    """Elman RNN: h_t = tanh(Wh x_t + Wx h_{t-1} + bh), y_t = Wy h_t + by.

    Column-vector convention: x_t has shape (input_size, 1). A matrix of shape
    (input_size, batch) works unchanged and processes `batch` sequences at once.
    """

    def __init__(self, input_size, hidden_size, output_size, init_scale=0.01):
        self.Wh = np.random.randn(hidden_size, input_size) * init_scale  # input -> hidden
        self.Wx = np.random.randn(hidden_size, hidden_size) * init_scale  # hidden -> hidden
        self.Wy = np.random.randn(output_size, hidden_size) * init_scale  # hidden -> output
        self.bh = np.zeros((hidden_size, 1))
        self.by = np.zeros((output_size, 1))
        self.hidden_size = hidden_size

    def params(self):
        return {"Wh": self.Wh, "Wx": self.Wx, "Wy": self.Wy, "bh": self.bh, "by": self.by}

    def forward(self, x_seq):
        """Run the sequence; keep every hidden state (self.hs[0] is h_{-1} = 0) for BPTT."""
        self.hs = [np.zeros((self.hidden_size, x_seq[0].shape[1]))]
        outputs = []
        for x in x_seq:
            h = np.tanh(self.Wh @ x + self.Wx @ self.hs[-1] + self.bh)
            self.hs.append(h)
            outputs.append(self.Wy @ h + self.by)
        return outputs

    def backward(self, x_seq, dy_seq):
        """Backpropagation through time; dy_seq[t] is dL/dy_t. Returns a dict of gradients."""
        grads = {"d" + name: np.zeros_like(p) for name, p in self.params().items()}
        dh_next = np.zeros_like(self.hs[0])  # gradient flowing back from step t+1
        for t in reversed(range(len(x_seq))):
            h, h_prev = self.hs[t + 1], self.hs[t]  # this step's own states, not the final one
            grads["dWy"] += dy_seq[t] @ h.T
            grads["dby"] += dy_seq[t].sum(axis=1, keepdims=True)
            dh = self.Wy.T @ dy_seq[t] + dh_next
            da = (1.0 - h**2) * dh  # back through tanh
            grads["dWh"] += da @ x_seq[t].T
            grads["dWx"] += da @ h_prev.T
            grads["dbh"] += da.sum(axis=1, keepdims=True)
            dh_next = self.Wx.T @ da
        return grads

    def step(self, grads, learning_rate, clip=None):
        """Plain SGD update, with optional element-wise gradient clipping (off by default)."""
        for name, p in self.params().items():
            g = grads["d" + name]
            p -= learning_rate * (np.clip(g, -clip, clip) if clip is not None else g)


# ---- (a) One forward pass, one BPTT backward pass, one SGD step ---------------------------------
x_seq = [np.random.randn(3, 1) for _ in range(5)]
dy_seq = [np.random.randn(2, 1) for _ in range(5)]
rnn = RNN(3, 4, 2)
outputs = rnn.forward(x_seq)
rnn.step(rnn.backward(x_seq, dy_seq), learning_rate=0.1)
for i, output in enumerate(outputs):
    print(f"Output at timestep {i}: {output}")


# ---- (b) Gradient check -------------------------------------------------------------------------
def seq_loss(net, xs, targets):
    """L = sum_t 0.5 * ||y_t - target_t||^2; also returns dL/dy_t for every step."""
    ys = net.forward(xs)
    dys = [y - tgt for y, tgt in zip(ys, targets, strict=True)]
    return sum(0.5 * float(np.sum(d**2)) for d in dys), dys


net = RNN(3, 5, 2, init_scale=0.5)  # larger weights so every gradient is far from zero
xs = [np.random.randn(3, 1) for _ in range(6)]
targets = [np.random.randn(2, 1) for _ in range(6)]
_, dys = seq_loss(net, xs, targets)
analytic = net.backward(xs, dys)

eps, max_rel = 1e-5, 0.0
for name, p in net.params().items():
    for idx in np.ndindex(p.shape):
        saved = p[idx]
        p[idx] = saved + eps
        loss_plus, _ = seq_loss(net, xs, targets)
        p[idx] = saved - eps
        loss_minus, _ = seq_loss(net, xs, targets)
        p[idx] = saved
        numeric = (loss_plus - loss_minus) / (2 * eps)
        a = analytic["d" + name][idx]
        rel = abs(a - numeric) / max(1e-12, abs(a) + abs(numeric))
        max_rel = max(max_rel, float(rel))

print(f"Gradient check (BPTT vs centred finite differences): max relative error = {max_rel:.1e}")
assert max_rel < 1e-6, f"BPTT gradients disagree with finite differences (rel. error {max_rel:.1e})"

# ---- (c) Next-value prediction on a sine wave ---------------------------------------------------
window = 15
series = np.sin(np.linspace(0, 8 * np.pi, 300))  # four periods, 300 samples
windows = np.stack([series[i : i + window + 1] for i in range(len(series) - window)])
split = int(0.8 * len(windows))  # first 80 % of the series for training, the rest held out
train, test = windows[:split], windows[split:]


def as_sequence(batch):
    """(batch, window) array -> list of `window` column matrices of shape (1, batch)."""
    return [batch[:, t][None, :] for t in range(window)]


def predict(net, batch):
    """Many-to-one: read the window, predict the next value from the last output."""
    return net.forward(as_sequence(batch))[-1]


model = RNN(1, 16, 1, init_scale=0.3)
adam_m = {k: np.zeros_like(p) for k, p in model.params().items()}
adam_v = {k: np.zeros_like(p) for k, p in model.params().items()}
lr, beta1, beta2, epochs = 0.01, 0.9, 0.999, 200
x_train, y_train = as_sequence(train), train[:, window][None, :]
losses = []
for epoch in range(1, epochs + 1):
    y_hat = model.forward(x_train)[-1]
    losses.append(float(np.mean((y_hat - y_train) ** 2)))  # measured before this update
    # only the last step has a target: dL/dy_t = 0 for every earlier step
    dys = [np.zeros_like(y_hat)] * (window - 1) + [2 * (y_hat - y_train) / y_train.shape[1]]
    grads = model.backward(x_train, dys)
    for k, p in model.params().items():  # Adam, with clipping against exploding gradients
        g = np.clip(grads["d" + k], -1.0, 1.0)
        adam_m[k] = beta1 * adam_m[k] + (1 - beta1) * g
        adam_v[k] = beta2 * adam_v[k] + (1 - beta2) * g**2
        m_hat, v_hat = adam_m[k] / (1 - beta1**epoch), adam_v[k] / (1 - beta2**epoch)
        p -= lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    if epoch == 1 or epoch % 50 == 0:
        print(f"Epoch {epoch:4d}  loss {losses[-1]:.3e}")

final_loss = float(np.mean((predict(model, train) - y_train) ** 2))  # after the last update
test_pred = predict(model, test).ravel()
test_mse = float(np.mean((test_pred - test[:, window]) ** 2))
initial_loss = losses[0]
print(f"Initial training loss (MSE): {initial_loss:.3e}")
print(f"Final training loss (MSE):   {final_loss:.3e}  ({initial_loss / final_loss:.0f}x smaller)")
print(f"Test MSE on {len(test)} held-out windows: {test_mse:.3e}")

plt.figure(figsize=(6, 4))
plt.semilogy(range(1, epochs + 1), losses)
plt.title("Training loss of the NumPy RNN")
plt.xlabel("Epoch")
plt.ylabel("MSE (log scale)")
plt.show()

plt.figure(figsize=(8, 4))
plt.plot(test[:, window], label="Actual")
plt.plot(test_pred, "--", label="Predicted")
plt.title("Sine wave: next-value prediction on held-out windows")
plt.xlabel("Test window index")
plt.ylabel("Value")
plt.legend()
plt.show()
