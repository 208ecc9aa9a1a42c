"""Experiment 13 (in-lab): a character-level LSTM language model that writes text.

The model reads a text one character at a time and learns to predict the next character.
It is trained on river_town.txt, a short story of about 5.6 KB written for this course
(original prose, free to use). One paragraph is held out as validation text. Every 25
training steps the program measures the loss (cross-entropy in nats per character) and
the perplexity, exp(loss), on the training and the validation text, and keeps a copy of
the weights with the lowest validation loss (early stopping). With those weights it then
generates text by sampling one character at a time: eight texts at each of three
temperatures, and measures how many of their words are real words of the story and how
many are distinct (one sample is one draw; the averages over several describe the method).

The post-lab program (temperature.py) imports the functions defined here.
"""

import argparse
import copy
import math
import re
import textwrap
from collections import Counter

import matplotlib.pyplot as plt
import torch
from torch import nn

from labreport.record import record

HELD_OUT = 4  # index of the paragraph kept for validation (the one about the mill)
EMBED, HIDDEN = 32, 96  # character embedding size, LSTM hidden units
SEQ_LEN, BATCH_SIZE = 64, 32  # each step: 32 random slices of 64 (+1) characters
STEPS, LR, EVAL_EVERY = 300, 0.005, 25
TEMPERATURES = (0.5, 1.0, 1.5)
N_SAMPLES, SAMPLE_LENGTH = 8, 300  # texts generated per temperature, characters per text


def load_data(path="river_town.txt"):
    """Return the vocabulary and the training and validation texts as id tensors."""
    with open(path, encoding="utf-8") as f:
        paragraphs = f.read().strip().split("\n\n")
    # The file wraps its lines; make every paragraph one line, paragraphs split by "\n".
    paragraphs = [" ".join(p.split()) for p in paragraphs]
    train_text = "\n".join(p for i, p in enumerate(paragraphs) if i != HELD_OUT)
    val_text = paragraphs[HELD_OUT]
    chars = sorted(set(train_text + val_text))  # the vocabulary: every character used
    to_id = {c: i for i, c in enumerate(chars)}
    train_ids = torch.tensor([to_id[c] for c in train_text])
    val_ids = torch.tensor([to_id[c] for c in val_text])
    return chars, train_ids, val_ids


def words_of(text):
    """The words of a text, in lower case."""
    return re.findall(r"[a-z']+", text.lower())


def word_stats(texts, story_words):
    """Averages over the texts: the fraction of a text's words that are real (words of the
    story) and the fraction that are distinct (a text that repeats itself has few)."""
    real = distinct = 0.0
    for text in texts:
        words = words_of(text)
        real += sum(w in story_words for w in words) / len(words)
        distinct += len(set(words)) / len(words)
    return real / len(texts), distinct / len(texts)


class CharLSTM(nn.Module):
    """Embedding -> LSTM -> linear layer: a score (logit) for every next character."""

    def __init__(self, vocab_size):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, EMBED)
        self.lstm = nn.LSTM(EMBED, HIDDEN, batch_first=True)
        self.head = nn.Linear(HIDDEN, vocab_size)

    def forward(self, x, state=None):
        out, state = self.lstm(self.embed(x), state)  # x: (batch, time) character ids
        return self.head(out), state  # logits: (batch, time, vocab)


def text_loss(model, ids):
    """Mean cross-entropy of predicting ids[1:] from ids[:-1], reading ids in order."""
    with torch.no_grad():
        logits, _ = model(ids[None, :-1])
        return nn.functional.cross_entropy(logits[0], ids[1:]).item()


def train(seed, log=print):
    """Train from the seed; return the best model, the vocabulary, the history."""
    chars, train_ids, val_ids = load_data()
    log(f"{len(train_ids)} training and {len(val_ids)} validation characters")
    log(f"Vocabulary: {len(chars)} characters")
    torch.manual_seed(1000 * seed)
    batches = torch.Generator().manual_seed(1000 * seed + 1)  # where the training windows start
    model = CharLSTM(len(chars))
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    history = {"step": [], "train": [], "val": []}
    for step in range(STEPS + 1):
        if step % EVAL_EVERY == 0:  # measured before this step's update
            history["step"].append(step)
            history["train"].append(text_loss(model, train_ids))
            history["val"].append(text_loss(model, val_ids))
            if history["val"][-1] == min(history["val"]):  # the best so far: keep it
                best_weights = copy.deepcopy(model.state_dict())
            if step % 50 == 0:
                tr, va = history["train"][-1], history["val"][-1]
                log(
                    f"step {step:3d}  loss: train {tr:.3f}, validation {va:.3f}  "
                    f"perplexity: {math.exp(tr):5.2f}, {math.exp(va):5.2f}"
                )
        if step == STEPS:
            break
        # A batch of random windows of the text; each character's target is the next.
        last_start = len(train_ids) - SEQ_LEN - 1
        starts = torch.randint(0, last_start, (BATCH_SIZE,), generator=batches)
        windows = torch.stack([train_ids[s : s + SEQ_LEN + 1] for s in starts])
        logits, _ = model(windows[:, :-1])
        targets = windows[:, 1:]
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    model.load_state_dict(best_weights)  # early stopping: the lowest validation loss
    return model, chars, history


def sample(model, chars, prompt, length, temperature, generator, n=1):
    """Generate n texts of `length` characters after `prompt`, drawn from softmax(logits / T).

    The n texts are generated side by side, as one batch: they differ only by the draws.
    """
    to_id = {c: i for i, c in enumerate(chars)}
    with torch.no_grad():
        # Read the prompt, then feed each generated character back in as the next input.
        logits, state = model(torch.tensor([[to_id[c] for c in prompt]] * n))
        out = []
        for _ in range(length):
            probs = torch.softmax(logits[:, -1] / temperature, dim=-1)  # (n, vocab)
            next_ids = torch.multinomial(probs, 1, generator=generator)  # (n, 1)
            out.append(next_ids)
            logits, state = model(next_ids, state)
    rows = torch.cat(out, dim=1).tolist()
    return [prompt + "".join(chars[i] for i in row) for row in rows]


def main(seed):
    torch.set_num_threads(1)  # the numbers of the lab record, also when run by hand
    model, chars, history = train(seed)
    steps, train_loss, val_loss = history["step"], history["train"], history["val"]
    best = val_loss.index(min(val_loss))
    print()
    initial = val_loss[0]
    print(f"Before training: loss {initial:.3f}, perplexity {math.exp(initial):.2f}")
    print(
        f"  (a uniform guess: loss ln {len(chars)} = {math.log(len(chars)):.3f}, "
        f"perplexity {len(chars)})"
    )
    print(
        f"After {STEPS} steps: training perplexity {math.exp(train_loss[-1]):.2f}, "
        f"validation perplexity {math.exp(val_loss[-1]):.2f}"
    )
    print(
        f"Lowest validation loss {val_loss[best]:.3f} "
        f"(perplexity {math.exp(val_loss[best]):.2f}) at step {steps[best]}: "
        "the weights used below"
    )
    record("vocab_size", len(chars))
    record("steps", STEPS)
    record("initial_loss", val_loss[0])
    record("initial_perplexity", math.exp(val_loss[0]))
    record("final_train_loss", train_loss[-1])
    record("final_train_perplexity", math.exp(train_loss[-1]))
    record("final_val_loss", val_loss[-1])
    record("final_val_perplexity", math.exp(val_loss[-1]))
    record("best_val_loss", val_loss[best])
    record("best_val_perplexity", math.exp(val_loss[best]))
    record("best_val_step", steps[best])
    record("best_train_loss", train_loss[best])
    record("curve_steps", steps)  # the whole curves, every EVAL_EVERY steps
    record("train_curve", train_loss)
    record("val_curve", val_loss)
    _, train_ids, val_ids = load_data()
    record("n_train_chars", len(train_ids))
    record("n_val_chars", len(val_ids))

    # Generate text: N_SAMPLES texts per temperature, drawn side by side. Measure how many
    # of their words are words of the training text, and how many are distinct.
    story_words = set(words_of("".join(chars[i] for i in train_ids)))
    generator = torch.Generator().manual_seed(1000 * seed + 2)
    record("n_samples", N_SAMPLES)
    record("sample_chars", SAMPLE_LENGTH)
    for temperature in TEMPERATURES:
        texts = sample(
            model, chars, "The river", SAMPLE_LENGTH, temperature, generator, n=N_SAMPLES
        )
        real, distinct = word_stats(texts, story_words)
        print(
            f"\n--- Temperature {temperature}: {N_SAMPLES} samples, on average {real:.0%} "
            f"real and {distinct:.0%} distinct words. The first: ---"
        )
        for line in texts[0].split("\n"):  # wrapped at 80 columns, keeping paragraph breaks
            print(textwrap.fill(line, 80))
        name = f"T{round(10 * temperature):02d}"  # T05, T10, T15
        record(f"real_{name}", real)
        record(f"distinct_{name}", distinct)
        # One line, so that the prose can quote it
        record(f"sample_{name}", " ".join(texts[0].split()))
        # The commonest pairs of consecutive words in all the texts of this temperature
        pairs = Counter()
        for text in texts:
            words = words_of(text)
            pairs.update(" ".join(pair) for pair in zip(words, words[1:], strict=False))
        top = pairs.most_common(3)
        print("Commonest word pairs: " + ", ".join(f"{p!r} ({n}x)" for p, n in top))
        record(f"top_pairs_{name}", [p for p, _ in top])

    fig, (ax_loss, ax_ppl) = plt.subplots(1, 2, figsize=(11, 4))
    curves = ((train_loss, "training text"), (val_loss, "validation paragraph"))
    for losses, label in curves:
        ax_loss.plot(steps, losses, marker=".", label=label)
        ax_ppl.plot(steps, [math.exp(v) for v in losses], marker=".", label=label)
    ax_loss.set_ylabel("cross-entropy (nats per character)")
    ax_ppl.set_ylabel("perplexity (log scale)")
    ax_ppl.set_yscale("log")
    for ax in (ax_loss, ax_ppl):
        ax.axvline(steps[best], color="gray", linestyle=":", label="weights kept")
        ax.set_xlabel("training step")
        ax.legend()
        ax.grid(True, alpha=0.3)
    fig.suptitle("Character-level LSTM on river_town.txt: loss and perplexity")
    fig.tight_layout()
    plt.show()


# Run as a program; `from char_lstm import ...` (the post-lab program) only defines.
if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the random generators")
    main(parser.parse_args().seed)
