"""Reference PyTorch implementations behind the MLLM Interview Handbook."""
