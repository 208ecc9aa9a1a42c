"""Logistic regression in NumPy, in the shape of pytorch/examples: argparse, main(), a guard."""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent


def train(x, y, epochs, lr):
    w, b, losses = 0.0, 0.0, []
    for _ in range(epochs):
        p = 1 / (1 + np.exp(-(w * x + b)))
        losses.append(float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))))
        w -= lr * float(np.mean((p - y) * x))
        b -= lr * float(np.mean(p - y))
    return losses


def main():
    parser = argparse.ArgumentParser(description="Logistic regression example")
    parser.add_argument("--epochs", type=int, default=14, help="number of epochs to train")
    parser.add_argument("--lr", type=float, default=1.0, help="learning rate")
    parser.add_argument("--save-plot", default=None, help="where to save the loss curve")
    args = parser.parse_args()
    print(f"epochs={args.epochs} lr={args.lr} save_plot={args.save_plot}")

    data = np.loadtxt(HERE / "data" / "points.csv", delimiter=",", skiprows=1)
    x = (data[:, 0] - data[:, 0].mean()) / data[:, 0].std()
    y = (data[:, 1] > data[:, 1].mean()).astype(float)
    losses = train(x, y, args.epochs, args.lr)
    print("trained", len(losses), "epochs; loss went down:", losses[-1] < losses[0])

    plt.plot(losses)
    plt.title("Training loss")
    if args.save_plot:
        plt.savefig(args.save_plot)


if __name__ == "__main__":
    main()
