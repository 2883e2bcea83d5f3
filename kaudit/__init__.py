"""kaudit: audit a Kubernetes cluster against the CIS Kubernetes Benchmark."""
__version__ = "0.1.0"
