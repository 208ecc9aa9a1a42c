"""pytorch/examples style: argparse, a few SGD steps, a checkpoint saved and loaded again."""

import argparse
import os

import torch
from torch import nn


def main():
    parser = argparse.ArgumentParser(description="PyTorch checkpoint example")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--save-model", action="store_true", default=False)
    args = parser.parse_args()

    x = torch.randn(32, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    for epoch in range(1, args.epochs + 1):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        print(f"Train Epoch: {epoch}")

    if args.save_model:
        torch.save({"epoch": args.epochs, "model": model.state_dict()}, "checkpoint.pt")
        print("saved:", sorted(f for f in os.listdir(".") if f.endswith(".pt")))
        checkpoint = torch.load("checkpoint.pt")
        restored = nn.Linear(4, 1)
        restored.load_state_dict(checkpoint["model"])
        same = all(
            torch.equal(a, b)
            for a, b in zip(model.parameters(), restored.parameters(), strict=True)
        )
        print("restored epoch", checkpoint["epoch"], "same weights:", same)


if __name__ == "__main__":
    main()
