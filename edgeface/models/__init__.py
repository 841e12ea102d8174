"""Model files and how to run them: the pinned catalogue, embedder profiles, onnxruntime sessions, quantization."""
