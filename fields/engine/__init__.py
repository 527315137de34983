"""The training engine: run folders, checkpoints (safetensors), and the one Lightning training path."""
