"""Experiment 13 (post-lab): what the sampling temperature does to generated text.

The model of the in-lab program is trained again (same seed, same data: the same model),
then
  (a) the probabilities of the next character after the prompt "The " are shown at
      three temperatures, with the entropy of each distribution;
  (b) 32 texts of 1200 characters are generated at each of seven temperatures from 0.2
      to 2.0 and three properties of them are measured, each averaged over the 32 texts:
      the fraction of the words that are real words (words that occur in the story), the
      fraction that are distinct (a measure of variety; a text that repeats itself has
      few distinct words) and the fraction of the three-word phrases that repeat a phrase
      of the same text (a measure of looping).
One generated text is one draw; its exact words say little about the method, averages over
many texts say more.
"""

import argparse
import math
import textwrap
from collections import Counter

import matplotlib.pyplot as plt
import torch
from char_lstm import load_data, sample, train, word_stats, words_of  # the in-lab program

from labreport.record import record

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seed", type=int, default=0, help="seed of the random generators")
SEED = parser.parse_args().seed
torch.set_num_threads(1)  # the numbers of the lab record, also when run by hand
SHOWN = (0.5, 1.0, 1.5)  # temperatures for part (a)
SWEEP = (0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0)  # temperatures for part (b)
LENGTH, N_TEXTS = 1200, 32  # characters per generated text, texts per temperature


def phrases_of(text, k=3):
    """The k-word phrases of a text (consecutive words), in order."""
    words = words_of(text)
    return [" ".join(words[i : i + k]) for i in range(len(words) - k + 1)]


def repeated_fraction(text):
    """Fraction of the three-word phrases of a text that repeat an earlier one of it."""
    phrases = phrases_of(text)
    return 1 - len(set(phrases)) / len(phrases)


def entropy_bits(probs):
    """Entropy of a distribution in bits: the average surprise of one draw."""
    p = probs[probs > 0]
    return float(-(p * p.log2()).sum())


model, chars, history = train(SEED, log=lambda message: None)  # quietly, as in the in-lab
best = min(history["val"])
print(f"Model retrained: lowest validation loss {best:.3f}, as in the in-lab program")
_, train_ids, _ = load_data()
story_words = set(words_of("".join(chars[i] for i in train_ids)))
n_story_words = len(story_words)
print(f"The training text uses {n_story_words} different words")

# ---- (a) One prediction at three temperatures ----------------------------------
prompt = "The "
with torch.no_grad():
    logits, _ = model(torch.tensor([[chars.index(c) for c in prompt]]))
logits = logits[0, -1]
top = torch.argsort(logits, descending=True)[:8]  # the 8 likeliest next characters
print()
print(f"Next character after {prompt!r}: probabilities of the 8 likeliest")
print("T      " + "".join(f"{chars[i]!r:>7}" for i in top) + "   entropy (bits)")
dists = {}
for t in SHOWN:
    probs = torch.softmax(logits / t, dim=0)
    dists[t] = probs
    row = "".join(f"{probs[i].item():7.3f}" for i in top)
    print(f"{t:<7}{row}   {entropy_bits(probs):.2f}")
    record(f"entropy_T{round(10 * t):02d}", entropy_bits(probs))
uniform_entropy = math.log2(len(chars))  # of a uniform guess, for comparison

# ---- (b) Real and distinct words against temperature ---------------------------
generator = torch.Generator().manual_seed(1000 * SEED + 3)
real_frac, distinct_frac, repeated_frac, samples = [], [], [], {}
print()
print(f"{N_TEXTS} texts of {LENGTH} generated characters per temperature; averages over them")
print("T      words/text   real words   distinct words   repeated 3-word phrases")
for t in SWEEP:
    texts = sample(model, chars, "The river", LENGTH, t, generator, n=N_TEXTS)
    samples[t] = texts[0]
    real, distinct = word_stats(texts, story_words)
    real_frac.append(real)
    distinct_frac.append(distinct)
    repeated_frac.append(sum(repeated_fraction(text) for text in texts) / N_TEXTS)
    n_words = sum(len(words_of(text)) for text in texts) / N_TEXTS
    print(f"{t:<7}{n_words:10.0f}   {real:10.3f}   {distinct:14.3f}   {repeated_frac[-1]:23.3f}")
for t in (0.2, 2.0):
    print(f"\n--- Beginning of the first text at temperature {t} ---")
    print(textwrap.fill(" ".join(samples[t][:240].split()), 80))
    record(f"sample_start_T{round(10 * t):02d}", " ".join(samples[t][:240].split()))
# The phrase the first text at T = 0.2 repeats most often: what its loop looks like
phrase, count = Counter(phrases_of(samples[0.2])).most_common(1)[0]
print(f"\nMost repeated phrase of that text at T = 0.2: {phrase!r}, {count} times")
# Where the two curves cross: linear interpolation between the two temperatures around it
gap = [r - d for r, d in zip(real_frac, distinct_frac, strict=True)]
crossing = None
for k in range(1, len(SWEEP)):
    if gap[k - 1] > 0 >= gap[k]:
        crossing = SWEEP[k - 1] + (SWEEP[k] - SWEEP[k - 1]) * gap[k - 1] / (gap[k - 1] - gap[k])
        print(f"The real-word and distinct-word curves cross near T = {crossing:.2f}")
        break

# ---- Figure ---------------------------------------------------------------------
fig, (ax_bar, ax_words) = plt.subplots(1, 2, figsize=(9, 4))
width = 0.27
for k, t in enumerate(SHOWN):
    x = [j + (k - 1) * width for j in range(len(top))]
    heights = [dists[t][i].item() for i in top]
    ax_bar.bar(x, heights, width, label=f"T = {t} ({entropy_bits(dists[t]):.2f} bits)")
ax_bar.set_xticks(range(len(top)), [repr(chars[i]) for i in top])
ax_bar.set_xlabel(f"next character after {prompt!r}")
ax_bar.set_ylabel("probability")
ax_bar.set_title("softmax(logits / T), one prediction")
ax_bar.legend()
ax_words.plot(SWEEP, real_frac, "o-", label="real words (occur in the story)")
ax_words.plot(SWEEP, distinct_frac, "s-", label="distinct words (variety)")
ax_words.plot(SWEEP, repeated_frac, "^--", label="repeated 3-word phrases (looping)")
ax_words.set_xlabel("temperature T")
ax_words.set_ylabel(f"fraction (mean of {N_TEXTS} texts)")
ax_words.set_ylim(0, 1.05)
ax_words.set_title(f"Words in {LENGTH}-character texts")
ax_words.legend()
ax_words.grid(True, alpha=0.3)
fig.suptitle("Sampling temperature: confident and repetitive, or varied and garbled")
fig.tight_layout()
plt.show()
