#!/usr/bin/env python3
"""PyTorch CPU peer of trainStitch, served op by op (peer_server.py): one epoch of
nn.Linear(d, k) + Adam (lr 1e-3), batch 128, MSE, shuffled with randperm,
torch.set_num_threads(threads). Run with Debian's python3-torch (/usr/bin/python3).
First stdin line: {"x", "y", "n", "d", "k", "threads", "batch"}; op: "epoch".
"""
import json
import sys

import numpy as np
import torch

from peer_server import serve


def main():
    req = json.loads(sys.stdin.readline())
    n, d, k, batch = req['n'], req['d'], req['k'], req['batch']
    torch.set_num_threads(req['threads'])
    torch.manual_seed(0)
    x = torch.from_numpy(np.fromfile(req['x'], dtype='<f4').reshape(n, d))
    y = torch.from_numpy(np.fromfile(req['y'], dtype='<f4').reshape(n, k))
    model = torch.nn.Linear(d, k)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.MSELoss()

    def epoch():
        perm = torch.randperm(n)
        for s in range(0, n, batch):
            idx = perm[s:s + batch]
            opt.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            opt.step()

    serve({'epoch': epoch}, lambda: {'torch': torch.__version__, 'threads': torch.get_num_threads(),
                                     'numpy': np.__version__})


if __name__ == '__main__':
    main()
