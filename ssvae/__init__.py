"""ssvae: a semi-supervised VAE for 28×28 images (Kingma & Welling 2014; Kingma et al. 2014).

Kept free of imports on purpose: `import ssvae.io.labels` must not pull in torch.
Torch lives in model, losses, training, device (and, lazily, checkpoint).
"""
