"""The 2-D view of a latent space, and its way back: what a point of the plot means.

`LatentView` is an affine map from the d-dimensional latent to the plane the page and the
report draw: `xy = (z - mean) @ components`. With d == 2 it is the identity (the plot shows
the latent itself); with d == 1 the second axis is 0; with d > 2 `components` are the first
two principal axes (orthonormal columns), so `unproject` puts a plane point back in the
latent with every other principal component at the data's mean. numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LatentView:
    mean: np.ndarray  # float64 [d]
    components: np.ndarray  # float64 [d, 2]

    @property
    def latent_dim(self) -> int:
        return int(self.mean.shape[0])

    @classmethod
    def axes(cls, d: int) -> LatentView:
        """The view that reads the first two latent axes as they are (d <= 2, or tiny data)."""
        components = np.zeros((d, 2))
        for i in range(min(d, 2)):
            components[i, i] = 1.0
        return cls(np.zeros(d), components)

    @classmethod
    def fit(cls, latent: np.ndarray) -> LatentView:
        """The latent itself when d <= 2, else its first two principal axes (signs fixed so
        the largest loading is positive: repeated fits on similar latents do not mirror)."""
        latent = np.asarray(latent)
        if latent.ndim != 2:
            raise ValueError(f"a latent view wants [N, d], got shape {latent.shape}")
        n, d = latent.shape
        if d <= 2 or n < 2:
            return cls.axes(d)
        mean = latent.mean(axis=0, dtype=np.float64)
        centred = latent.astype(np.float64) - mean
        cov = centred.T @ centred / (n - 1)
        _, vectors = np.linalg.eigh(cov)  # eigenvalues ascending
        components = vectors[:, ::-1][:, :2]
        signs = np.sign(components[np.abs(components).argmax(axis=0), [0, 1]])
        return cls(mean, components * np.where(signs == 0, 1.0, signs))

    def project(self, latent: np.ndarray) -> np.ndarray:
        """float32 [N, 2]: latent points in the plane."""
        z = np.asarray(latent, dtype=np.float64).reshape(-1, self.latent_dim)
        return ((z - self.mean) @ self.components).astype(np.float32)

    def unproject(self, xy: np.ndarray) -> np.ndarray:
        """float32 [N, d]: plane points in the latent (the other components at the mean)."""
        plane = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        return (self.mean + plane @ self.components.T).astype(np.float32)

    def to_json(self) -> dict[str, Any]:
        return {
            "latent_dim": self.latent_dim,
            "mean": self.mean.tolist(),
            "components": self.components.tolist(),
        }

    @classmethod
    def from_arrays(cls, mean: np.ndarray, components: np.ndarray) -> LatentView:
        mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        components = np.asarray(components, dtype=np.float64)
        if components.shape != (mean.shape[0], 2):
            raise ValueError(f"components must be [{mean.shape[0]}, 2], got {components.shape}")
        return cls(mean, components)
