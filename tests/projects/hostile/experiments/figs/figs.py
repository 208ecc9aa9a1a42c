# 200 figures, each shown: only the first few are worth a record.
import matplotlib.pyplot as plt

for i in range(200):
    plt.figure(figsize=(1, 1))
    plt.title(f"figure {i + 1}")
    plt.show()
print("plotted 200 figures")
