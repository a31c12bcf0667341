"""PyTorch side of the head-training speed benchmark (bench/head/run.sh).

Trains Linear(d, hidden)-ReLU-Linear(hidden, 2) with Adam (lr 1e-3), cross
entropy, the given batch size and epochs, shuffling every epoch, and
evaluates the validation set after every epoch, as models/head's trainer
does; on the features bench/head writes with -prepare.

    /usr/bin/python3 bench/head/torch_head.py DIR EPOCHS BATCH HIDDEN THREADS
"""
import json
import sys
import time

import numpy as np
import torch

start = time.time()
d, epochs, batch, hidden, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(1)
meta = json.load(open(f"{d}/meta.json"))
dim = meta["dim"]
xt = torch.from_numpy(np.fromfile(f"{d}/train.f32", dtype="<f4").reshape(-1, dim))
yt = torch.from_numpy(np.fromfile(f"{d}/train.i32", dtype="<i4").astype(np.int64))
xv = torch.from_numpy(np.fromfile(f"{d}/valid.f32", dtype="<f4").reshape(-1, dim))
yv = torch.from_numpy(np.fromfile(f"{d}/valid.i32", dtype="<i4").astype(np.int64))
loaded = time.time() - start

model = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
n = len(yt)
for epoch in range(epochs):
    t0 = time.time()
    model.train()
    perm = torch.randperm(n)
    total = 0.0
    for s in range(0, n, batch):
        idx = perm[s : s + batch]
        opt.zero_grad()
        loss = loss_fn(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
        total += loss.item() * len(idx)
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(xv[s : s + batch]) for s in range(0, len(yv), batch)])
        vloss = loss_fn(out, yv).item()
        acc = (out.argmax(1) == yv).float().mean().item()
    print(f"epoch {epoch + 1}: train loss {total / n:.4f}, valid loss {vloss:.4f}, accuracy {acc:.4f}, "
          f"{n / (time.time() - t0):.0f} rows/s", file=sys.stderr)
print(json.dumps({"tool": "pytorch", "threads": torch.get_num_threads(), "load_s": loaded,
                  "train_s": time.time() - start - loaded, "valid_accuracy": acc, "valid_loss": vloss}))
