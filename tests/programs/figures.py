import matplotlib.pyplot as plt

plt.figure()
plt.plot([1, 2, 3])
plt.title("one")
plt.show()

plt.figure()
plt.plot([3, 2, 1])
plt.title("two")
plt.show()

fig = plt.figure()
plt.plot([1, 3, 2])
plt.title("three")
fig.savefig("three.png")
plt.close(fig)

plt.figure()
plt.plot([2, 2, 2])
plt.title("four")
# left open at exit
