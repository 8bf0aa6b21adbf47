"""Datasets: IDX files, downloads, the generated test set, augmentation views and the images'
own features. numpy at import; torch only in `augment` (imported where training needs it)."""
