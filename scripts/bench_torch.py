#!/usr/bin/python3
"""The reference UNet3D-small of DESIGN.md in PyTorch, for speed comparison
with `hydrobridge bench-net` only (never on the main path). Same layers,
periodic padding, FiLM conditioning, AdamW; prints the median milliseconds of
a training step and of an inference forward, and GFLOP/s counted the same way
as hydrobridge (2 x multiply-adds of the convolutions and linears)."""
import argparse, math, statistics, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class ResBlock(nn.Module):
    def __init__(self, c, emb):
        super().__init__()
        self.a = nn.Conv3d(c, c, 3, padding=1, padding_mode="circular")
        self.b = nn.Conv3d(c, c, 3, padding=1, padding_mode="circular")
        self.film = nn.Linear(emb, 2 * c)

    def forward(self, x, e):
        h = self.a(x)
        scale, shift = self.film(e).chunk(2, dim=1)
        h = h * (1 + scale[:, :, None, None, None]) + shift[:, :, None, None, None]
        return x + self.b(F.silu(h))


class UNet(nn.Module):
    def __init__(self, n_fields, w, emb=64):
        super().__init__()
        cin = n_fields + 1
        self.emb = nn.Sequential(nn.Linear(22, emb), nn.SiLU(), nn.Linear(emb, emb))
        c3 = lambda i, o: nn.Conv3d(i, o, 3, padding=1, padding_mode="circular")
        self.stem = c3(cin, w)
        self.r0 = ResBlock(w, emb)
        self.down1 = nn.Conv3d(w, 2 * w, 2, stride=2)
        self.r1 = ResBlock(2 * w, emb)
        self.down2 = nn.Conv3d(2 * w, 4 * w, 2, stride=2)
        self.r2 = ResBlock(4 * w, emb)
        self.up1 = nn.ConvTranspose3d(4 * w, 2 * w, 2, stride=2)
        self.dec1 = c3(4 * w, 2 * w)
        self.r1b = ResBlock(2 * w, emb)
        self.up0 = nn.ConvTranspose3d(2 * w, w, 2, stride=2)
        self.dec0 = c3(2 * w, w)
        self.r0b = ResBlock(w, emb)
        self.head = nn.Conv3d(w, n_fields, 1)

    def forward(self, x, feat):
        e = self.emb(feat)
        s0 = self.r0(self.stem(x), e)
        s1 = self.r1(self.down1(s0), e)
        h = self.r2(self.down2(s1), e)
        h = self.r1b(F.silu(self.dec1(torch.cat([self.up1(h), s1], 1))), e)
        h = self.r0b(F.silu(self.dec0(torch.cat([self.up0(h), s0], 1))), e)
        return self.head(h)


def flops(n_fields, w, P, B, emb=64):
    cin = n_fields + 1
    v0, v1, v2 = P ** 3, (P // 2) ** 3, (P // 4) ** 3
    c3 = lambda i, o, v: 2 * 27 * i * o * v
    res = lambda c, v: 2 * c3(c, c, v) + 2 * emb * 2 * c
    f = c3(cin, w, v0) + res(w, v0) + 2 * 8 * w * 2 * w * v1 + res(2 * w, v1)
    f += 2 * 8 * 2 * w * 4 * w * v2 + res(4 * w, v2)
    f += 2 * 8 * 4 * w * 2 * w * v2 + c3(4 * w, 2 * w, v1) + res(2 * w, v1)
    f += 2 * 8 * 2 * w * w * v1 + c3(2 * w, w, v0) + res(w, v0) + 2 * w * n_fields * v0
    f += 2 * (22 * emb + emb * emb)
    return B * f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--patch", type=int, default=32)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--fields", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = UNet(a.fields, a.width)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    x = torch.randn(a.batch, a.fields + 1, a.patch, a.patch, a.patch)
    y = torch.randn(a.batch, a.fields, a.patch, a.patch, a.patch)
    feat = torch.rand(a.batch, 22)
    train, infer = [], []
    for i in range(a.steps + 2):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        loss = F.mse_loss(net(x, feat), y)
        loss.backward()
        opt.step()
        if i >= 2:
            train.append(time.perf_counter() - t0)
    with torch.no_grad():
        for i in range(a.steps + 2):
            t0 = time.perf_counter()
            net(x, feat)
            if i >= 2:
                infer.append(time.perf_counter() - t0)
    tr, inf = statistics.median(train) * 1e3, statistics.median(infer) * 1e3
    fl = flops(a.fields, a.width, a.patch, a.batch)
    print(f"torch {torch.__version__} threads={a.threads} train_ms={tr:.1f} infer_ms={inf:.1f} "
          f"train_gflops={3 * fl / tr / 1e6:.2f} infer_gflops={fl / inf / 1e6:.2f} "
          f"mkldnn={torch.backends.mkldnn.is_available()}")


if __name__ == "__main__":
    main()
