"""The "typical" queue's expensive parts on disk, per workspace and dataset.

    artifacts/<dataset>/queue/features.npz              the images' features (pixel PCA)
    artifacts/<dataset>/queue/clusters-k<k>-s<seed>.npz  one clustering of them, typicality too

Computing them takes seconds of CPU (a PCA of the pixels, then k-means into hundreds of
clusters); reading them back, milliseconds. So a restarted server, and `alctl suggest`
without one, answer the queue at once instead of computing them again. Each file names what
it was computed from (a digest of the images, or of the features), and a file that does not
match, or cannot be read, is ignored and computed again: these are caches, and deleting them
costs time, never a different pick (so they are written without fsync: ssvae.io.atomic).
The newest `CLUSTER_FILES` clusterings are kept. numpy only.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ssvae.io.atomic import atomic_write
from ssvae.select.representative import Clusters, Pace

FORMAT = 1
CLUSTER_FILES = 8  # clusterings kept on disk: enough for the k of now and a few either side
FINGERPRINT_STRIDE = 16  # every 16th image names the dataset


class QueueCache:
    """Features and clusterings of one dataset's training images, kept in `directory`.

    `compute(images, pace)` makes the features (ssvae.data.pixel_features.pixel_pca) and
    `recipe` names how (its settings), so that features made another way are not taken.
    Thread-safe. Nothing is held locked while computing: a request never waits for a
    background computation that paused for a training session; two computations of the same
    thing may run, and give the same result.
    """

    def __init__(
        self,
        directory: Path,
        images: np.ndarray,
        compute: Callable[[np.ndarray, Pace | None], np.ndarray],
        recipe: str,
    ) -> None:
        self.directory = Path(directory)
        self._images = images
        self._compute = compute
        self._recipe = recipe
        self._lock = threading.Lock()
        self._features: np.ndarray | None = None  # float64: what the ranking reads
        self._fingerprint: str | None = None

    # -- features ------------------------------------------------------------------------

    def cached_features(self) -> np.ndarray | None:
        """The features if this process has them already (never computes or reads)."""
        with self._lock:
            return self._features

    def features(self, pace: Pace | None = None) -> np.ndarray:
        """float64 [N, dims]: from memory, from disk, or computed (and then saved)."""
        known = self.cached_features()
        if known is not None:
            return known
        loaded = self._load_features()
        if loaded is None:
            loaded = np.asarray(self._compute(self._images, pace), np.float32)
            with contextlib.suppress(OSError):  # a read-only workspace: compute next time
                self._save_features(loaded)
        features = np.asarray(loaded, dtype=np.float64)
        with self._lock:  # the first one kept: every caller gets the same object
            if self._features is None:
                self._features = features
            return self._features

    def _images_fingerprint(self) -> str:
        with self._lock:
            if self._fingerprint is not None:
                return self._fingerprint
        # Every 16th image and the last: a few milliseconds where all 47 MB took a tenth of a
        # second, and no other dataset (or another size of one) shares them.
        images = np.asarray(self._images)
        sample = np.ascontiguousarray(images[::FINGERPRINT_STRIDE])
        digest = hashlib.blake2b(f"{images.dtype.str}{images.shape}".encode(), digest_size=16)
        digest.update(memoryview(sample).cast("B"))
        digest.update(np.ascontiguousarray(images[-1:]).tobytes())
        value = f"{digest.hexdigest()} {self._recipe}"
        with self._lock:
            self._fingerprint = value
        return value

    @property
    def features_path(self) -> Path:
        return self.directory / "features.npz"

    def _load_features(self) -> np.ndarray | None:
        try:
            with np.load(self.features_path, allow_pickle=False) as data:
                if int(data["format"]) != FORMAT:
                    return None
                if str(data["images"]) != self._images_fingerprint():
                    return None
                features = data["features"]
        except Exception:  # missing, damaged or foreign: computed again
            return None
        if features.ndim != 2 or len(features) != len(self._images) or features.dtype != np.float32:
            return None
        return features

    def _save_features(self, features: np.ndarray) -> None:
        with atomic_write(self.features_path, durable=False) as handle:
            np.savez(
                handle,
                format=np.int64(FORMAT),
                images=np.str_(self._images_fingerprint()),
                features=np.asarray(features, np.float32),
            )

    # -- clusterings (ssvae.select.representative.ClusterStore) ----------------------------

    def clusters_path(self, k: int, seed: int) -> Path:
        return self.directory / f"clusters-k{int(k)}-s{int(seed)}.npz"

    def load_clusters(self, digest: bytes, k: int, seed: int) -> Clusters | None:
        path = self.clusters_path(k, seed)
        try:
            with np.load(path, allow_pickle=False) as data:
                if int(data["format"]) != FORMAT or data["digest"].tobytes() != digest:
                    return None
                assign = data["assign"].astype(np.int64)
                typicality = data["typicality"]
        except Exception:  # missing, damaged or foreign: fitted again
            return None
        n = len(self._images)
        if assign.shape != (n,) or typicality.shape != (n,) or typicality.dtype != np.float64:
            return None
        if n and (assign.min() < 0 or assign.max() >= k):
            return None
        with contextlib.suppress(OSError):
            path.touch()  # recently used: kept longest
        return Clusters(assign, typicality.copy(), int(k), int(seed))

    def save_clusters(self, digest: bytes, clusters: Clusters) -> None:
        """Write one clustering (typicality as computed so far); OSError is the caller's."""
        path = self.clusters_path(clusters.k, clusters.seed)
        with atomic_write(path, durable=False) as handle:
            np.savez(
                handle,
                format=np.int64(FORMAT),
                digest=np.frombuffer(digest, np.uint8),
                assign=clusters.assign.astype(np.int32),
                typicality=np.asarray(clusters.typicality, np.float64),
            )
        self._forget_old_clusterings()

    def _forget_old_clusterings(self) -> None:
        files = []
        for path in self.directory.glob("clusters-k*-s*.npz"):
            with contextlib.suppress(OSError):
                files.append((path.stat().st_mtime_ns, path))
        for _, path in sorted(files, reverse=True)[CLUSTER_FILES:]:
            path.unlink(missing_ok=True)
