"""A three-line training dashboard, redrawn in place with cursor-up (ESC[nA) each epoch."""

epochs = 4
for epoch in range(1, epochs + 1):
    if epoch > 1:
        print("\x1b[3A", end="")  # back to the dashboard's first line
    print(f"\x1b[2Kepoch {epoch}/{epochs}")
    print(f"\x1b[2Kloss  {1 / epoch:.3f}")
    print(f"\x1b[2Kstate {'training' if epoch < epochs else 'finished'}")
print("summary written")
