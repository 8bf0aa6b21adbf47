"""The network: encoder, decoder and classifier (`model`), the loss terms (`losses`), decoding
latent points (`decode`). Kingma & Welling 2014; Kingma et al. 2014 (M2)."""
