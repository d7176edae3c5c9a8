"""The jobs domain core: models, lifecycle, store. Shared by every function as a Lambda layer."""
