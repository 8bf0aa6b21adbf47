"""The workspace's files: labels, checkpoints, history, caches and their atomic, locked,
checksummed writing. No torch at import (the checkpoint functions import it when called)."""
