#!/usr/bin/env python3
"""Writes test cases from PyTorch's own nn.LSTM for lstmcl's proof tests.

    torch_cases.py OUTDIR

Each case is a directory OUTDIR/caseNN with
  model.safetensors   the LSTM's state_dict (float32; some with a prefix)
  grads.safetensors   the loss's gradient w.r.t. each of those tensors, with
                      bias_hh's gradient written as zeros: lstmcl keeps one
                      bias, whose gradient is bias_ih's (they are equal)
  x.npy               the input (T,N,D), or (N,T,D) when batch_first
  lengths.npy         (when the case has lengths) int64 or int32 (N,)
  h0.npy, c0.npy      (when the case has states) (layers*dirs, N, H)
  y.npy hn.npy cn.npy the outputs, computed in float64 from the float32 inputs
  dy.npy dhn.npy dcn.npy   random upstream gradients (float32)
  dx.npy dh0.npy dc0.npy   their gradients (float64)
  meta.txt            "key value" lines: layers dirs batch_first N T D H
                      lengths states
With lengths, the model runs as pack_padded_sequence(enforce_sorted=False)
→ LSTM → pad_packed_sequence(total_length=T).  A last directory
OUTDIR/onnx holds a bidirectional two-layer model exported by
torch.onnx.export, its LSTM nodes' initializers as read by python3-onnx
(layerK_W.npy, _R.npy, _B.npy and layerK.txt with the node's attributes),
x.npy and torch's y.npy.

The safetensors format is an 8-byte little-endian header length, a JSON
header and the raw data; a few lines below write it."""
import json
import os
import struct
import sys

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

# (layers, bidirectional, batch_first, N, T, D, H, lengths, states, prefix)
CASES = [
    (1, False, False, 1, 1, 3, 5, False, False, ""),
    (1, False, True, 4, 6, 7, 5, True, True, ""),
    (1, True, False, 3, 5, 2, 9, False, True, "lstm."),
    (1, True, True, 5, 7, 6, 4, True, False, ""),
    (2, False, False, 6, 8, 5, 11, True, True, "encoder.rnn."),
    (2, True, False, 7, 6, 9, 8, True, True, ""),
    (2, True, True, 1, 4, 3, 3, False, False, ""),
    (3, True, False, 5, 9, 4, 7, True, True, "lstm."),
    (3, False, True, 8, 5, 10, 6, True, False, ""),
    (2, True, True, 9, 10, 12, 13, True, True, ""),
    (1, True, False, 16, 12, 8, 24, True, True, ""),
    (3, True, True, 2, 3, 1, 2, True, True, ""),
]


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        a = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4"))
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def f32(shape, gen, scale=1.0):
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1).mul(scale) \
        .float().double()


def run(lstm, x, lengths, h0c0, batch_first, T):
    if lengths is None:
        return lstm(x, h0c0)
    packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    out, (hn, cn) = lstm(packed, h0c0)
    y, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    return y, (hn, cn)


def write_case(d, k, case):
    L, bi, bf, N, T, D, H, with_len, states, prefix = case
    gen = torch.Generator().manual_seed(1000 + k)
    torch.manual_seed(1000 + k)
    dirs = 2 if bi else 1
    lstm = torch.nn.LSTM(D, H, num_layers=L, bidirectional=bi, batch_first=bf)
    with torch.no_grad():  # weights exactly float32 values, then float64 math
        for p in lstm.parameters():
            p.copy_(f32(p.shape, gen, 1.0 / np.sqrt(H)))
    save_safetensors(os.path.join(d, "model.safetensors"),
                     {prefix + n: p for n, p in lstm.state_dict().items()})
    lstm = lstm.double()
    xshape = (N, T, D) if bf else (T, N, D)
    x = f32(xshape, gen).requires_grad_(True)
    lengths = None
    if with_len:
        lengths = torch.randint(1, T + 1, (N,), generator=gen)
        lengths[0] = T          # the longest and the shortest both occur
        if N > 1:
            lengths[N - 1] = 1
        lengths = lengths[torch.randperm(N, generator=gen)]
        np.save(os.path.join(d, "lengths.npy"),
                lengths.numpy().astype(np.int64 if k % 2 else np.int32))
    h0c0 = None
    if states:
        h0 = f32((L * dirs, N, H), gen).requires_grad_(True)
        c0 = f32((L * dirs, N, H), gen).requires_grad_(True)
        h0c0 = (h0, c0)
        np.save(os.path.join(d, "h0.npy"), h0.detach().numpy().astype(np.float32))
        np.save(os.path.join(d, "c0.npy"), c0.detach().numpy().astype(np.float32))
    np.save(os.path.join(d, "x.npy"),
            x.detach().numpy().astype(np.float64 if k % 3 == 1 else np.float32))
    y, (hn, cn) = run(lstm, x, lengths, h0c0, bf, T)
    dy, dhn, dcn = f32(y.shape, gen), f32(hn.shape, gen), f32(cn.shape, gen)
    if lengths is not None:  # dy past an end reaches nothing; lstmcl must not read it
        for n in range(N):
            if bf:
                dy[n, lengths[n]:] = float("nan")
            else:
                dy[lengths[n]:, n] = float("nan")
    loss = (y * torch.nan_to_num(dy)).sum() + (hn * dhn).sum() + (cn * dcn).sum()
    loss.backward()
    for name, a in (("y", y), ("hn", hn), ("cn", cn)):
        np.save(os.path.join(d, name + ".npy"), a.detach().numpy())
    for name, a in (("dy", dy), ("dhn", dhn), ("dcn", dcn)):
        np.save(os.path.join(d, name + ".npy"), a.numpy().astype(np.float32))
    np.save(os.path.join(d, "dx.npy"), x.grad.numpy())
    if states:
        np.save(os.path.join(d, "dh0.npy"), h0c0[0].grad.numpy())
        np.save(os.path.join(d, "dc0.npy"), h0c0[1].grad.numpy())
    grads = {}
    for n, p in lstm.named_parameters():
        grads[n] = torch.zeros_like(p) if n.startswith("bias_hh") else p.grad
    save_safetensors(os.path.join(d, "grads.safetensors"), grads)
    with open(os.path.join(d, "meta.txt"), "w") as f:
        for key, v in (("layers", L), ("dirs", dirs), ("batch_first", int(bf)), ("N", N),
                       ("T", T), ("D", D), ("H", H), ("lengths", int(with_len)),
                       ("states", int(states))):
            f.write("%s %d\n" % (key, v))


def write_onnx(d):
    import onnx
    from onnx import numpy_helper
    torch.manual_seed(7)
    L, D, H, N, T = 2, 5, 6, 3, 4
    lstm = torch.nn.LSTM(D, H, num_layers=L, bidirectional=True)
    x = torch.rand(T, N, D) * 2 - 1
    path = os.path.join(d, "model.onnx")
    torch.onnx.export(lstm, (x,), path, opset_version=14)
    with torch.no_grad():
        y, _ = lstm.double()(x.double())
    np.save(os.path.join(d, "x.npy"), x.numpy())
    np.save(os.path.join(d, "y.npy"), y.numpy())
    graph = onnx.load(path).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    layer = 0
    for node in graph.node:
        if node.op_type != "LSTM":
            continue
        for slot, name in ((1, "W"), (2, "R"), (3, "B")):
            np.save(os.path.join(d, "layer%d_%s.npy" % (layer, name)),
                    init[node.input[slot]].astype(np.float32))
        with open(os.path.join(d, "layer%d.txt" % layer), "w") as f:
            for a in node.attribute:
                v = onnx.helper.get_attribute_value(a)
                if isinstance(v, bytes):
                    v = v.decode()
                if isinstance(v, list):
                    v = ",".join(x.decode() if isinstance(x, bytes) else str(x) for x in v)
                f.write("%s %s\n" % (a.name, v))
        layer += 1
    with open(os.path.join(d, "meta.txt"), "w") as f:
        f.write("layers %d\ndirs 2\nN %d\nT %d\nD %d\nH %d\n" % (layer, N, T, D, H))


def main():
    out = sys.argv[1]
    torch.set_num_threads(1)
    for k, case in enumerate(CASES):
        d = os.path.join(out, "case%02d" % k)
        os.makedirs(d, exist_ok=True)
        write_case(d, k, case)
    d = os.path.join(out, "onnx")
    os.makedirs(d, exist_ok=True)
    write_onnx(d)


if __name__ == "__main__":
    main()
