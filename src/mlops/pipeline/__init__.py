"""The pipeline: one module per DVC stage (dvc.yaml), run as `mlops <stage>`."""
