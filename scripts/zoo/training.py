"""Seeded training loop: AdamW with a one-cycle schedule, random horizontal flips, accuracy on
both halves of the Fashion-MNIST test set and wall time printed after every epoch."""
import time

import torch
import torch.nn.functional as F

from idx_data import EVAL_RANGE, REST_RANGE


def to_tensor(images):
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28] in [0, 1], the models' input contract."""
    return torch.from_numpy(images).float().div_(255.0).unsqueeze(1)


@torch.no_grad()
def correct_count(model, images, labels, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, images.shape[0], batch):
        correct += int((model(images[i:i + batch]).argmax(1) == labels[i:i + batch]).sum())
    return correct


def test_accuracies(model, test_x, test_y):
    """Accuracy on t10k images 0-4999 (the shipped eval split) and 5000-9999 (never shipped)."""
    out = {}
    for key, (lo, hi) in (('eval', EVAL_RANGE), ('rest', REST_RANGE)):
        out[key] = correct_count(model, test_x[lo:hi], test_y[lo:hi]) / (hi - lo)
    return out


def train(model, recipe, train_x, train_y, test_x, test_y, seed, log):
    generator = torch.Generator().manual_seed(seed)
    epochs, batch = recipe['epochs'], recipe['batch']
    steps_per_epoch = (train_x.shape[0] + batch - 1) // batch
    opt = torch.optim.AdamW(model.parameters(), lr=recipe['lr'], weight_decay=recipe['weight_decay'])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe['lr'], epochs=epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.15)
    started = time.time()
    history = []
    for epoch in range(epochs):
        epoch_start = time.time()
        model.train()
        order = torch.randperm(train_x.shape[0], generator=generator)
        total_loss = 0.0
        for step in range(steps_per_epoch):
            idx = order[step * batch:(step + 1) * batch]
            x, y = train_x[idx], train_y[idx]
            if recipe.get('flip'):
                # Fashion-MNIST garments are left-right symmetric enough that mirrored images stay in-class.
                flip = torch.rand(x.shape[0], generator=generator) < 0.5
                x = torch.where(flip[:, None, None, None], x.flip(3), x)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += float(loss)
        train_seconds = time.time() - epoch_start
        acc = test_accuracies(model, test_x, test_y)
        history.append(dict(epoch=epoch + 1, loss=total_loss / steps_per_epoch, seconds=train_seconds, **acc))
        log(f'  epoch {epoch + 1}/{epochs}  loss {total_loss / steps_per_epoch:.4f}  '
            f'test[0:5000] {acc["eval"] * 100:.2f}%  test[5000:10000] {acc["rest"] * 100:.2f}%  '
            f'{train_seconds:.0f} s (total {time.time() - started:.0f} s)')
    return history, time.time() - started
