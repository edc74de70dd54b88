"""lstmcl.torch.LSTM against torch.nn.LSTM."""
import pytest

torch = pytest.importorskip("torch")
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

import lstmcl  # noqa: E402
from lstmcl.torch import LSTM  # noqa: E402

CONFIGS = [  # D, H, layers, bias, batch_first, bidirectional, N, T
    (3, 5, 1, True, False, False, 1, 1),
    (4, 7, 2, True, True, False, 3, 6),
    (6, 4, 1, False, False, True, 5, 4),
    (5, 9, 3, True, False, True, 2, 7),
    (8, 3, 2, False, True, True, 4, 5),
]

worst = {}


def rel(a, b):
    a, b = a.detach().double(), b.detach().double()
    return ((a - b).pow(2).mean().sqrt() / max(b.pow(2).mean().sqrt().item(), 0.1)).item()


def check(what, a, b, bound):
    e = rel(a, b)
    worst[what] = max(worst.get(what, 0.0), e)
    assert e < bound, "%s: %.3e" % (what, e)


def pair(D, H, L, bias, bf, bi, seed):
    torch.manual_seed(seed)
    ref = torch.nn.LSTM(D, H, num_layers=L, bias=bias, batch_first=bf, bidirectional=bi)
    ours = LSTM(D, H, num_layers=L, bias=bias, batch_first=bf, bidirectional=bi)
    ours.load_state_dict(ref.state_dict())
    return ref, ours


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("states", [False, True])
def test_matches_nn_lstm(cfg, states):
    D, H, L, bias, bf, bi, N, T = cfg
    ref, ours = pair(D, H, L, bias, bf, bi, hash(cfg) % 1000)
    dirs = 2 if bi else 1
    x = torch.randn((N, T, D) if bf else (T, N, D), requires_grad=True)
    hx = None
    if states:
        hx = (torch.randn(L * dirs, N, H, requires_grad=True),
              torch.randn(L * dirs, N, H, requires_grad=True))
    outs = []
    for m in (ref, ours):
        y, (hn, cn) = m(x, hx)
        loss = (y * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum() + \
            (hn ** 2).sum() + (cn * 0.5).sum()
        grads = torch.autograd.grad(loss, [x] + ([hx[0], hx[1]] if states else []) +
                                    list(m.parameters()))
        outs.append((y, hn, cn, grads))
    (ry, rh, rc, rg), (y, h, c, g) = outs
    check("output", y, ry, 1e-5)
    check("h_n", h, rh, 1e-5)
    check("c_n", c, rc, 1e-5)
    for k, (a, b) in enumerate(zip(g, rg)):
        check("gradients", a, b, 1e-4)


def test_packed_sequence():
    ref, ours = pair(5, 6, 2, True, False, True, 5)
    lengths = torch.tensor([4, 1, 7, 7, 3])
    x = torch.randn(7, 5, 5, requires_grad=True)
    res = []
    for m in (ref, ours):
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        y, (hn, cn) = m(packed)
        assert isinstance(y, torch.nn.utils.rnn.PackedSequence)
        yp, _ = pad_packed_sequence(y, total_length=7)
        loss = (yp ** 2).sum() + hn.sum() + (cn ** 2).sum()
        res.append((yp, hn, cn, torch.autograd.grad(loss, [x] + list(m.parameters()))))
    check("packed output", res[1][0], res[0][0], 1e-5)
    check("packed h_n", res[1][1], res[0][1], 1e-5)
    check("packed c_n", res[1][2], res[0][2], 1e-5)
    for a, b in zip(res[1][3], res[0][3]):
        check("packed gradients", a, b, 1e-4)


def test_unbatched_and_float64():
    ref, ours = pair(3, 4, 1, True, False, False, 9)
    x = torch.randn(5, 3, dtype=torch.float64)
    y, (hn, cn) = ours(x)
    ry, (rh, rc) = ref.double()(x)
    assert y.dtype == torch.float64 and y.shape == ry.shape and hn.shape == rh.shape
    check("unbatched output", y, ry, 1e-5)


def test_state_dict_round_trip():
    ref, ours = pair(4, 5, 2, True, True, True, 3)
    ours.reset_parameters()  # now different
    back = torch.nn.LSTM(4, 5, num_layers=2, batch_first=True, bidirectional=True)
    back.load_state_dict(ours.state_dict())  # lstmcl -> torch
    again = LSTM(4, 5, num_layers=2, batch_first=True, bidirectional=True)
    again.load_state_dict(back.state_dict())  # torch -> lstmcl
    x = torch.randn(3, 6, 4)
    assert rel(ours(x)[0], back(x)[0]) < 1e-5
    assert torch.equal(again(x)[0], ours(x)[0])
    assert set(ours.state_dict()) == set(ref.state_dict())


def test_training_lowers_the_loss():
    torch.manual_seed(0)
    model = LSTM(1, 16, num_layers=1, batch_first=True)
    head = torch.nn.Linear(16, 1)
    opt = torch.optim.Adam(list(model.parameters()) + list(head.parameters()), lr=0.02)
    t = torch.linspace(0, 6.28, 20)
    x = torch.sin(t + torch.rand(8, 1) * 6.28).unsqueeze(-1)  # predict the next value
    losses = []
    for _ in range(60):
        y, _ = model(x[:, :-1])
        loss = ((head(y) - x[:, 1:]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0], losses[::10]


def test_refusals():
    with pytest.raises(lstmcl.Error, match="dropout"):
        LSTM(3, 4, num_layers=2, dropout=0.5)
    with pytest.raises(lstmcl.Error, match="proj_size"):
        LSTM(3, 4, proj_size=2)
    m = LSTM(3, 4)
    with pytest.raises(lstmcl.Error, match="input has shape"):
        m(torch.randn(5, 2, 7))
    with pytest.raises(lstmcl.Error, match="h_0 has shape"):
        m(torch.randn(5, 2, 3), (torch.zeros(2, 2, 4), torch.zeros(1, 2, 4)))
    with pytest.raises(lstmcl.Error, match="floating point"):
        m(torch.ones(5, 2, 3, dtype=torch.int64))


def test_report_worst():
    for k in sorted(worst):
        print("largest normalised error vs nn.LSTM: %-18s %.2e" % (k, worst[k]))
