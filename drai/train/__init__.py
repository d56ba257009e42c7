"""Training: one run per (dataset, variant, seed).

* :mod:`~drai.train.settings` (torch-free, for the workflow's parse): a run's settings from the config;
* :mod:`~drai.train.step`: one step, the batch's crops and flips and both sides' updates;
* :mod:`~drai.train.graphed`: that step captured once as a CUDA graph (``train.cuda_graph``);
* :mod:`~drai.train.run`: the resumable run, its checkpoints, losses and averaged weights.
"""
