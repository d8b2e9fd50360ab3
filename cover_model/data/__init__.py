"""The data layer: covers from disk to arrays. Decoding (``images``), datasets and their
manifests (``dataset``), splits, downsizing and the preprocess cache, zip imports
(``archive``), the real covers' features pack, and what each analysis needs of a dataset.
It reads no public-mode policy: callers pass the limits in (:class:`images.ImageLimits`)."""
