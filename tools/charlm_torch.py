#!/usr/bin/python3
"""charlm_torch.py: the PyTorch twin of lstmcl-train --text (tools/charlm.c).

The same model (embedding -> stacked nn.LSTM with dropout between layers ->
linear -> softmax cross-entropy), the same data and the same data order
(the last tenth held out; N contiguous segments read chunk after chunk,
the carried state zeroed at each epoch), Adam with the same settings,
gradient-norm clipping, the same learning-rate schedules and the same
held-out scoring, on PyTorch's CPU backend with its own default
initialisation.  It writes a curve.csv with lstmcl-train's columns, so that
the two can be compared step for step (docs/training.md).

    tools/charlm_torch.py --text FILE [--layers 2 --hidden 256 --embed 32
        --seq 32 --batch 32 --steps 4000 --lr 0.003 --clip 5 --dropout 0
        --lr-schedule constant|cosine --seed 1 --eval-every 250
        --threads 2 --out DIR]

Needs Debian's python3-torch and python3-numpy.
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch


def corpus(path):
    """Vocabulary, training ids and held-out ids, as charlm_corpus_from_text."""
    data = open(path, "rb").read()
    if len(data) < 100:
        sys.exit("charlm_torch: %s has %d bytes; at least 100 are needed" % (path, len(data)))
    raw = np.frombuffer(data, dtype=np.uint8)
    present = np.zeros(256, dtype=bool)
    present[raw] = True
    vocab = np.nonzero(present)[0]
    id_of = np.full(256, -1, dtype=np.int64)
    id_of[vocab] = np.arange(len(vocab))
    ids = id_of[raw]
    split = len(data) - len(data) // 10
    return len(vocab), ids[:split], ids[split:]


def stream_chunk(N, T, ntrain, step, stream):
    """charlm_stream_chunk: (start, epoch_start), or None if too short."""
    seg = (ntrain - 1) // N if ntrain > 1 else 0
    chunks = seg // T
    if chunks == 0:
        return None
    slack = seg - chunks * T
    epoch = step // chunks
    start = stream * seg + epoch % (slack + 1) + (step % chunks) * T
    return start, step % chunks == 0


def learning_rate(lr, schedule, schedule_steps, step):
    """charlm_learning_rate."""
    if schedule != "cosine":
        return lr
    low = lr / 10
    t = min(step, schedule_steps) / schedule_steps
    return low + (lr - low) * (1 + math.cos(math.pi * t)) / 2


class Model(torch.nn.Module):
    def __init__(self, V, E, H, layers, dropout):
        super().__init__()
        self.embed = torch.nn.Embedding(V, E)
        self.lstm = torch.nn.LSTM(E, H, layers, batch_first=True,
                                  dropout=dropout if layers > 1 else 0.0)
        self.out = torch.nn.Linear(H, V)

    def forward(self, tokens, state):
        h, state = self.lstm(self.embed(tokens), state)
        return self.out(h), state


def heldout_bits(model, heldout, N, T, H, layers, max_chars=40000):
    """charlm_heldout_loss, in bits per character: N streams over the first
    max_chars held-out characters, the first chunk only warming up."""
    avail = min(len(heldout) - 1, max_chars)
    seg = avail // N
    chunks = seg // T
    if chunks < 2:
        sys.exit("charlm_torch: the held-out text is too short")
    model.eval()
    state = (torch.zeros(layers, N, H), torch.zeros(layers, N, H))
    base = np.arange(N)[:, None] * seg + np.arange(T)[None, :]
    total, count = 0.0, 0
    with torch.no_grad():
        for ch in range(chunks):
            pos = base + ch * T
            x = torch.from_numpy(heldout[pos])
            y = torch.from_numpy(heldout[pos + 1])
            logits, state = model(x, state)
            if ch == 0:
                continue
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                     y.reshape(-1), reduction="sum")
            total += float(loss)
            count += N * T
    model.train()
    return total / count / math.log(2)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--text", required=True)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--seq", type=int, default=32)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--out", default="charlm-torch-out")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    V, train, heldout = corpus(a.text)
    N, T, H, L = a.batch, a.seq, a.hidden, a.layers
    if stream_chunk(N, T, len(train), 0, 0) is None:
        sys.exit("charlm_torch: the training text is too short for %d streams of %d" % (N, T))
    model = Model(V, a.embed, H, L, a.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    os.makedirs(a.out, exist_ok=True)
    csv = open(os.path.join(a.out, "curve.csv"), "w")
    csv.write("step,train_loss_nats,heldout_bits_per_char,heldout_answers_right,elapsed_s\n")
    params = sum(t.numel() for t in model.parameters())
    print("charlm_torch (PyTorch %s, %d threads): %d layers of %d, embedding %d, %d "
          "parameters; %d training and %d held-out characters, vocabulary %d"
          % (torch.__version__, torch.get_num_threads(), L, H, a.embed, params, len(train),
             len(heldout), V), file=sys.stderr)
    state = (torch.zeros(L, N, H), torch.zeros(L, N, H))
    interval, n_interval = 0.0, 0
    t0 = time.monotonic()
    eval_time = 0.0
    for step in range(a.steps):
        starts, epoch_start = [], False
        for i in range(N):
            start, epoch_start = stream_chunk(N, T, len(train), step, i)
            starts.append(start)
        pos = np.array(starts)[:, None] + np.arange(T)[None, :]
        x = torch.from_numpy(train[pos])
        y = torch.from_numpy(train[pos + 1])
        if epoch_start:
            state = (torch.zeros(L, N, H), torch.zeros(L, N, H))
        for g in opt.param_groups:
            g["lr"] = learning_rate(a.lr, a.lr_schedule, a.steps, step)
        logits, state = model(x, state)
        state = (state[0].detach(), state[1].detach())
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        interval += float(loss)
        n_interval += 1
        s = step + 1
        if s % a.eval_every == 0 or s == a.steps:
            e0 = time.monotonic()
            bits = heldout_bits(model, heldout, N, T, H, L)
            eval_time += time.monotonic() - e0
            el = time.monotonic() - t0
            train_time = el - eval_time
            csv.write("%d,%.6f,%.6f,0.0000,%.2f\n" % (s, interval / n_interval, bits, el))
            csv.flush()
            print("step %6d/%d  loss %.3f  held-out %.3f bits/char  %.0f chars/s (training)  "
                  "%.0f s elapsed" % (s, a.steps, interval / n_interval, bits,
                                      s * N * T / train_time, el), file=sys.stderr)
            interval, n_interval = 0.0, 0
    el = time.monotonic() - t0
    print("done: %d steps in %.1f s, %.0f chars/s of training (evaluations left out)"
          % (a.steps, el, a.steps * N * T / (el - eval_time)), file=sys.stderr)


if __name__ == "__main__":
    main()
